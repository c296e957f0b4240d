"""bitsandbytes' CPU-kernel advert is gone from every run, and nothing else it says is hidden."""

import subprocess
import sys

from ft_jupyter.noise import BNB_CPU_KERNEL_MESSAGE

SCRIPT = """
import logging, sys
{first}
import peft  # imports bitsandbytes whenever it is installed
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("a different bitsandbytes warning")
"""


def _stderr(first: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(first=first)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_importing_the_kit_first_drops_exactly_the_cpu_kernel_message():
    quiet = _stderr("import ft_jupyter")
    assert BNB_CPU_KERNEL_MESSAGE not in quiet
    assert "a different bitsandbytes warning" in quiet


def test_the_message_is_real_on_this_cpu_so_the_filter_is_what_removes_it():
    from bitsandbytes.functional import has_avx512bf16

    loud = _stderr("")
    if has_avx512bf16():
        assert BNB_CPU_KERNEL_MESSAGE in loud
    else:  # CPUs without avx512_bf16 never print it: the filter is then a no-op, which the first test still checks
        assert BNB_CPU_KERNEL_MESSAGE not in loud


def test_a_message_is_quiet_only_inside_the_block():
    import logging

    from ft_jupyter.noise import quiet_message

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage()[:22])

    # Its own logger: bitsandbytes' real one may carry other filters by now (training drops its repeats).
    seen, name = [], "ft_jupyter.tests.quiet"
    logger, keep = logging.getLogger(name), Keep(logging.DEBUG)
    logger.addHandler(keep)
    try:
        with quiet_message(name, "MatMul8bitLt: inputs will be cast from"):
            logger.warning("MatMul8bitLt: inputs will be cast from %s to float16 during quantization", "fp32")
            logger.warning("another bitsandbytes warning")
        logger.warning("MatMul8bitLt: inputs will be cast from %s to float16 during quantization", "fp32")
    finally:
        logger.removeHandler(keep)
    assert seen == ["another bitsandbytes w", "MatMul8bitLt: inputs w"]


def test_deepspeed_cpu_notice_is_dropped_and_its_other_warnings_are_not():
    import logging

    from ft_jupyter.noise import DEEPSPEED_LOGGER, silence_known_noise

    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    silence_known_noise()
    logger, keep = logging.getLogger(DEEPSPEED_LOGGER), Keep()
    logger.addHandler(keep)
    try:
        logger.warning("Setting accelerator to CPU. If you have GPU or other accelerator, we were unable to detect it.")
        logger.warning("ZeRO stage 3 needs more memory than you have")
    finally:
        logger.removeHandler(keep)
    assert seen == ["ZeRO stage 3 needs more memory than you have"]
