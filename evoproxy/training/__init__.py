"""Training runtimes: the CIFAR-10 loop, knowledge distillation, checkpoints (read weights_only)."""
