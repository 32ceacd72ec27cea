"""The one door to language models: litellm behind a typed API, and local Hugging Face models."""
