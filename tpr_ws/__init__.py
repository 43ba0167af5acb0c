"""tpr_ws: malaria Test Positivity Rate chat on a sticky-free actor registry."""

__version__ = "0.1.0"
