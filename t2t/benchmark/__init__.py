"""Benchmark: agents talk to a simulated user and the tools in closed loop; runs, scores, pass^k."""
