"""Data on disk: the data directory and its files, probe batches of images, the CIFAR-10 packs."""
