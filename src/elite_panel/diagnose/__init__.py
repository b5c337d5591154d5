"""Diagnosis: the doctor's checks and the support bundle, for the command and the window."""
