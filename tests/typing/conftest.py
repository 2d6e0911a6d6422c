# The two user scripts are read by pyright, not run by pytest (the typo'd one would fail on import).
collect_ignore = ["user_script.py", "user_script_typos.py"]
