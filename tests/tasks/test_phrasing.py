"""Phrasebooks: the helpers, the contract every built-in domain's phrasebook keeps, the fallback."""

import shutil
import string

import pytest

import t2t
from t2t.core.errors import DomainError
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.intents.text import mentions
from t2t.tasks import (
    Mention,
    article,
    convert_walk,
    last_digits,
    listing,
    money,
    option_phrase,
    payment_method,
    phrasebook_of,
    request_text,
    spoken_date,
    the_one_with,
)

DOMAINS = t2t.builtin_domains()


def test_values_are_spoken_as_people_write_them():
    assert money(32.16) == "$32.16"
    assert money(1500) == "$1,500"
    assert money(-4443.7) == "-$4,443.70"
    assert spoken_date("2024-05-03") == "May 3, 2024"
    assert spoken_date("2024-05-03", year=False) == "May 3"
    assert spoken_date("2024-02-30") == "2024-02-30"  # not a date: left alone
    assert listing(["a"]) == "a"
    assert listing(["a", "b", "c"]) == "a, b and c"
    assert last_digits("acc_9846861") == "6861"
    said = {w: f"{article(w)} {w}" for w in ("Everly Monitor", "item", "unit", "USB hub", "SSD")}
    assert list(said.values()) == [
        "an Everly Monitor",
        "an item",
        "a unit",
        "a USB hub",
        "an SSD",
    ]
    options = [("size", "large"), ("waterproof", "yes"), ("waterproof", "no")]
    options += [("backlight", "none"), ("tilt_mechanism", "auto tilt")]
    options += [("battery type", "AA batteries"), ("bagged/bagless", "bagless")]
    assert [option_phrase(k, v) for k, v in options] == [
        "large size",
        "waterproof",
        "not waterproof",
        "no backlight",
        "auto tilt",
        "AA batteries",
        "bagless",
    ]
    assert option_phrase("size", "XL") == "size XL" and option_phrase("size", "7") == "size 7"


def test_a_product_told_by_its_options_puts_adjectives_where_people_do():
    assert the_one_with(["large size"]) == "the one with large size"
    assert the_one_with(["waterproof", "large size"]) == "the waterproof one with large size"
    assert the_one_with(["not waterproof"]) == "the one that is not waterproof"
    said = the_one_with(["black color", "not foldable", "no backlight"])
    assert said == "the one with black color and no backlight that is not foldable"


def test_payment_methods_are_named_by_brand_and_digits_or_by_their_number_when_twins():
    card = {"source": "credit_card", "brand": "visa", "last_four": "1076"}
    assert payment_method(Mention("p", "credit_card_1", card)) == "your Visa ending in 1076"
    gift = {"source": "gift_card"}
    assert payment_method(Mention("p", "gift_card_1309715", gift)) == "your gift card"
    twin = Mention("p", "gift_card_1309715", gift, others=({"source": "gift_card"},))
    assert payment_method(twin) == "your gift card ending in 9715"


@pytest.mark.parametrize("name", DOMAINS)
def test_every_write_has_templates_that_name_only_its_arguments(name):
    domain = t2t.load_domain(name)
    book = phrasebook_of(domain)
    assert book is not None, f"{name} has no phrasebook"
    for tool in domain.write_tools:
        templates = book.asks.get(tool)
        assert templates, f"{name}: no way to ask for {tool}"
        arguments = set(domain.tools[tool].openai_schema()["function"]["parameters"]["properties"])
        for template in templates:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert fields <= arguments | set(book.derived), (tool, fields - arguments)
    for key in book.motives:
        assert key.split(":")[0] in domain.write_tools, key


def _walks(name, count):
    domain = t2t.load_domain(name)
    db = domain.generate_db(seed=0, **domain.scales["small"])
    env = domain.environment(db)
    graph, pool = build_tool_graph(env), ValuePool(db)
    for seed in range(count):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is not None:
            yield seed, walk


@pytest.mark.parametrize("name", DOMAINS)
def test_every_value_the_user_chooses_is_in_the_request(name):
    """A new address, an amount, a passenger: the agent can only hear them from the user."""
    checked = 0
    for seed, walk in _walks(name, 40):
        for step in walk.steps:
            text = request_text(walk, step.candidate)
            for arg, origin in step.candidate.origins.items():
                value = step.candidate.call.arguments[arg]
                if origin != "free" or value in ("", None) or isinstance(value, bool):
                    continue
                for leaf in value if isinstance(value, list) else [value]:
                    for item in leaf.values() if isinstance(leaf, dict) else [leaf]:
                        assert mentions(text, item), (seed, arg, item, text)
                        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("name", DOMAINS)
def test_requests_give_a_motive_and_read_the_same_for_the_same_call(name):
    for seed, walk in _walks(name, 15):
        task = convert_walk(walk, task_id="w-base", seed=seed)
        again = convert_walk(walk, task_id="w-base", seed=seed + 1)
        assert task.variant.details["requests"] == again.variant.details["requests"]
        for request in task.variant.details["requests"]:
            assert " because " in request or " since " in request or " as " in request, request


def test_a_domain_without_a_phrasebook_keeps_the_generic_wording(tmp_path):
    folder = tmp_path / "shop"
    shutil.copytree(t2t.load_domain("retail").folder, folder)
    (folder / "phrasebook.py").unlink()
    domain = t2t.load_domain(str(folder))
    assert phrasebook_of(domain) is None
    db = domain.generate_db(seed=0, **domain.scales["small"])
    env = domain.environment(db)
    graph, pool = build_tool_graph(env), ValuePool(db)
    walk = next(w for s in range(20) if (w := explore_offline(env, graph, pool, seed=s)))
    text = request_text(walk, walk.steps[0].candidate)
    assert text.startswith(walk.steps[0].candidate.call.name.replace("_", " ") + ":"), text


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('ASKS = {"refund_everything": ("refund {order_id}",)}', "is not a tool of the domain"),
        ('ASKS = {"cancel_pending_order": ("cancel {order}",)}', "names order: neither"),
        ('ASKS = {"cancel_pending_order": "cancel {order_id}"}', "is not a list"),
        ('MOTIVES = {"cancel_order": ("because",)}', "names no tool of the domain"),
    ],
)
def test_a_phrasebook_naming_what_the_domain_lacks_is_a_clear_error(tmp_path, table, message):
    folder = tmp_path / "shop"
    shutil.copytree(t2t.load_domain("retail").folder, folder)
    (folder / "phrasebook.py").write_text(table + "\n", encoding="utf-8")
    domain = t2t.load_domain(str(folder))
    with pytest.raises(DomainError, match=message) as error:
        phrasebook_of(domain)
    assert "phrasebook.py" in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ({"size": "S", "color": "red"}, {"size": "L", "color": "red"}, "the wrong size"),
        ({"refresh rate": "60Hz"}, {"refresh rate": "165Hz"}, "a different refresh rate"),
    ],
)
def test_an_exchange_gives_a_reason_that_fits_what_the_replacement_changes(old, new, reason):
    book = phrasebook_of(t2t.load_domain("retail"))
    request = {"item_ids": ["1"], "new_item_ids": ["2"]}
    mentions = {
        "item_ids": Mention("item_ids", "1", record={"options": old}, request=request),
        "new_item_ids": Mention(
            "new_item_ids", "2", record={"options": new}, partner={"options": old}, request=request
        ),
    }
    motives = book.motives_for("exchange_delivered_order_items", request, mentions)
    assert any(m.endswith(reason) for m in motives), motives
    assert not any("wrong size" in m for m in motives if reason != "the wrong size")
