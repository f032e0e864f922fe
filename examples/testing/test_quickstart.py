from sendx_worker import identify


def signup(email: str, name: str) -> None:  # your app's signup code
    identify(email, first_name=name, tags=["Developer"])


def test_signup_sends_ada_with_tags_developer(sendx_recorder):
    signup("ada@example.com", "Ada")
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Developer"])


def test_a_422_ends_as_a_dead_letter(sendx_emulator, sendx_worker):
    sendx_emulator.fail_next(1, status=422)
    signup("ada@example.com", "Ada")
    sendx_worker.drain()
    sendx_worker.assert_dead_lettered("ada@example.com", "rejected", status=422)
