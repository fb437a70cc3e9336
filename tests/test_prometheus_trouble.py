"""The fleet's GPUs in trouble, from the answer of the trouble query (pure)."""

from __future__ import annotations

from aiconsole.prometheus.client import Series
from aiconsole.prometheus.trouble import FAULTS, TROUBLE, trouble_by_host


def series(name: str, value: float, gpu: str, **labels: str) -> Series:
    return Series({"__name__": name, "gpu": gpu, "UUID": f"GPU-{gpu}", **labels}, 0.0, value)


def test_each_host_gets_its_faulty_gpus_and_their_last_xid() -> None:
    found = trouble_by_host(
        [
            series("DCGM_FI_DEV_XID_ERRORS", 79, "3", Hostname="gpu07"),
            series("DCGM_FI_DEV_ROW_REMAP_FAILURE", 1, "3", Hostname="gpu07"),
            series("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 2, "0", instance="10.0.0.9:9400"),
            series("DCGM_FI_DEV_XID_ERRORS", 13, "not a number", Hostname="gpu07"),
        ]
    )
    gpus, events = found["gpu07"]
    assert [(g.index, g.uuid, g.remap_failure) for g in gpus] == [(3, "GPU-3", True)]
    assert [(e.xid, e.gpu_index, e.source) for e in events] == [(79, 3, "dcgm-exporter")]
    assert events[0].name == "GPU has fallen off the bus"
    (ecc,), no_events = found["10.0.0.9"]
    assert (ecc.index, ecc.ecc_uncorrected_volatile, no_events) == (0, 2, ())


def test_the_query_asks_only_for_non_zero_fault_series() -> None:
    assert TROUBLE.count("!= 0") == len(FAULTS)
    assert all(f"{metric} != 0" in TROUBLE for metric in FAULTS)
