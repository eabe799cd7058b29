"""An outage is logged once when it begins and once when it ends, however many failures."""

from __future__ import annotations

from structlog.testing import capture_logs

from kadath.persistence.availability import DatabaseAvailability


def test_an_outage_is_logged_once_at_its_start_and_once_at_its_end() -> None:
    availability = DatabaseAvailability()
    with capture_logs() as logs:
        for _ in range(50):
            availability.lost(ConnectionRefusedError(111, "refused"))
        for _ in range(5):
            availability.answered()

    assert [entry["event"] for entry in logs] == ["database_unavailable", "database_recovered"]
    assert logs[1]["failures"] == 50
    assert "exc_info" not in logs[0]
    assert (availability.up, availability.outages) == (True, 1)


def test_each_new_outage_is_counted() -> None:
    availability = DatabaseAvailability()
    availability.lost(OSError("down"))
    assert not availability.up
    availability.answered()
    availability.lost(OSError("down again"))
    assert (availability.up, availability.outages) == (False, 2)
