"""One module per behavioural population: how its accounts form groups and what they do.

Each function takes the chunk (``reviewguard.simulator.generate.Chunk``) and
adds its events through the chunk's writers; ``Chunk.run`` calls them in a
fixed order, which, with the chunk's random streams, makes a seed give
byte-identical files.
"""
