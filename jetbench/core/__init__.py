"""The bottom layer: errors, paths, atomic files, hashing, scales, devices, threads, distributed
helpers, set bookkeeping and the optimiser toolkit. Everything else may import it; it imports
nothing of jetbench outside itself. Modules that need torch import it themselves, so importing
`jetbench.core.errors` stays light.
"""
