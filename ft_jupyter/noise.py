"""Third-party messages that say nothing to a user of this kit, each filtered by its exact text.

bitsandbytes logs "Failed to load CPU gemm_4bit_forward from kernels-community ..." whenever it is imported on a CPU
with avx512_bf16, and peft imports it whenever it is installed, so every run (quantized or not) and the first cell
of every notebook showed it. It advertises an optional kernel fetched from a model hub at run time; 4-bit layers
work without it. Only that message is dropped: every other bitsandbytes warning still reaches the user.
"""

from __future__ import annotations

import logging

BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_CPU_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence_known_noise() -> None:
    """Install the filters once; cheap (logging only), so `import ft_jupyter` does it before peft can load."""
    logger = logging.getLogger(BNB_CPU_LOGGER)
    if not any(isinstance(f, _DropMessage) for f in logger.filters):
        logger.addFilter(_DropMessage(BNB_CPU_KERNEL_MESSAGE))
