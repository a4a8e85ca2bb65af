"""The bottom layer: errors, paths, atomic files, hashing (and, as they move here, scales,
devices, distributed helpers). Everything else may import it; it imports nothing of jetbench."""
