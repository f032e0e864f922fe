"""A process that adds ``N`` to a contact's field under the store's lease, one at a time.

``python -m tests.support.store_counter URL N``: the cross-process half of the store
contract (threads share a process's connection pool; processes share only the server).
"""

from __future__ import annotations

import sys
import uuid

from sendx_worker.state import Pending, open_store


def main(url: str, count: int) -> None:
    store = open_store(url)
    owner = uuid.uuid4().hex
    done = 0
    while done < count:
        mark = Pending(stamp=1, owner=owner)
        state = store.begin("counter", owner, lease_s=60, keep_s=3600, event=uuid.uuid4().hex, mark=mark)
        if state is None:
            continue
        state.fields["n"] = state.fields.get("n", 0) + 1
        state.pending.clear()
        if not store.finish("counter", owner, state, keep_s=3600):
            raise SystemExit("lost the lease")
        done += 1
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
