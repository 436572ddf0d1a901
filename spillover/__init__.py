"""spillover: regional export-spillover dataset and panel estimation for Japan."""

__version__ = "0.1.0"
