"""Rebalancing: pure planners from (fleet snapshot, findings, scheduler state) to moves.

Three policies, each a function of immutable inputs: ``idle`` (reclaim GPUs that jobs hold
without using), ``defrag`` (requeue the fewest, cheapest jobs so the largest pending job can
start, only if every requeued job can be placed again) and ``hot`` (move work off nodes whose
GPUs run hot or sick onto cool nodes). No I/O and no Textual: the CLI, the TUI and the tests
turn a result into a plan of the one action machinery.
"""
