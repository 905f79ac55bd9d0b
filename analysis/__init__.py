"""Statistics, figures and the report (no PsychoPy)."""
