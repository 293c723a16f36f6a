def browse() -> None:
    pass
