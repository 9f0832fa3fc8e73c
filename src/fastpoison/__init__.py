"""fastpoison: poisoning attacks and defenses for recommender systems."""
__version__ = "0.1.0"
