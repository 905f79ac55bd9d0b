"""The PsychoPy session runner. Importing this package does not import PsychoPy; only the
modules that draw or play (window, screens, audio, session) do."""
