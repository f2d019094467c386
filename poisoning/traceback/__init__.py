"""Traceback: which passages that reached the reader made it give a wrong answer (forensics after an incident)."""
