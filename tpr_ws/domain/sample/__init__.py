"""The synthetic NMEP export generator: realistic geography, counts, layouts A-D and defects."""
