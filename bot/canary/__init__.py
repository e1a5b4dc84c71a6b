"""Canary analysis: a pure-Python port of Kayenta's NetflixACAJudge-v1.0 (see judge.py)."""
