"""Third-party messages that say nothing to a user of this kit, each filtered by its exact text.

bitsandbytes logs "Failed to load CPU gemm_4bit_forward from kernels-community ..." whenever it is imported on a CPU
with avx512_bf16, and peft imports it whenever it is installed, so every run (quantized or not) and the first cell
of every notebook showed it. It advertises an optional kernel fetched from a model hub at run time; 4-bit layers
work without it. Only that message is dropped: every other bitsandbytes warning still reaches the user. The same for
DeepSpeed's "Setting accelerator to CPU" notice, printed on every import on a machine without a GPU.
"""

from __future__ import annotations

import logging

BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_CPU_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"
# DeepSpeed (the optional extra for ZeRO launches), once installed, is imported by accelerate and peft in every
# process, and on a machine without a GPU announces on each import that it chose the CPU.
DEEPSPEED_LOGGER = "DeepSpeed"
DEEPSPEED_CPU_MESSAGE = "Setting accelerator to CPU"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence_known_noise() -> None:
    """Install the filters once; cheap (logging only), so `import ft_jupyter` does it before peft can load."""
    for name, message in ((BNB_CPU_LOGGER, BNB_CPU_KERNEL_MESSAGE), (DEEPSPEED_LOGGER, DEEPSPEED_CPU_MESSAGE)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) for f in logger.filters):
            logger.addFilter(_DropMessage(message))


BNB_INT8_LOGGER = "bitsandbytes.autograd._functions"
BNB_INT8_CAST_MESSAGE = "MatMul8bitLt: inputs will be cast from"


class quiet_message:
    """`with quiet_message(logger, prefix):` drops that one message for the block, e.g. bitsandbytes' 8-bit matmul
    logging the same fp32 → fp16 cast on every call while a quantized copy is scored (the cost is what is measured)."""

    def __init__(self, logger: str, prefix: str):
        self.logger, self.filter = logging.getLogger(logger), _DropMessage(prefix)

    def __enter__(self) -> quiet_message:
        self.logger.addFilter(self.filter)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeFilter(self.filter)
