"""The settings of a QuickBooks Desktop integration (the Web Connector's password is not one: it
is stored hashed on its account, timesync.models.WebConnectorAccount)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.settings import ConnectorSettings

# What to do with an entry when QuickBooks already holds hours typed in by hand for the same
# employee, day and customer:job: skip it with a warning naming them (paying them twice is the
# worse mistake), or send it anyway.
HandEnteredHours = Literal["skip", "send"]
MAX_BLOCKS_PER_TRIP = 200


class QuickBooksSettings(ConnectorSettings):
    # Payroll wage items (their QuickBooks ListIDs) for our time types; regular hours without
    # one take the employee's default in QuickBooks, overtime and double time are refused.
    wage_item_regular: str = Field(default="", max_length=40)
    wage_item_overtime: str = Field(default="", max_length=40)
    wage_item_double_time: str = Field(default="", max_length=40)
    hand_entered_hours: HandEnteredHours = Field(
        default="skip", description="skip: hours already typed into QuickBooks for the same "
        "employee, day and job are reported, not sent again; send: send ours anyway.")
    blocks_per_trip: int = Field(
        default=50, ge=1, le=MAX_BLOCKS_PER_TRIP,
        description="Work blocks sent in one Web Connector round trip.")

    def wage_items(self) -> dict[str, str]:
        """Our time type → the ListID of its payroll wage item, for those linked."""
        items = {"regular": self.wage_item_regular, "overtime": self.wage_item_overtime,
                 "double_time": self.wage_item_double_time}
        return {time_type: list_id for time_type, list_id in items.items() if list_id}
