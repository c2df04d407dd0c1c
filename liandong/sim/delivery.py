"""The bureau's delivery system in the simulation: reads each written notice (告知书) on
liandong.bureau.notices as ``svc-delivery`` and confirms its delivery (送达回证) on
liandong.bureau.deliveries, as an SMS gateway, the post or the online platform would."""

from __future__ import annotations

from datetime import datetime

from liandong_sdk.events import NoticeDelivered, NoticeIssued

from services.notices.cli import delivered_id

from .._bus import Bus

_RECEIPTS = {"SMS": "短信回执", "POST": "挂号信", "ONLINE": "平台已读", "IN_PERSON": "当面送达"}


class Delivery:
    def __init__(self, bus: Bus, group: str) -> None:
        me = bus.as_principal("svc-delivery")
        self.inbox = me.subscriber(["liandong.bureau.notices"], group_id=group, service="delivery",
                                   auto_offset_reset="earliest")
        self.publisher = me.publisher("bureau/delivery")
        self.delivered = 0

    def deliver(self, at: datetime) -> int:
        """Confirms every notice that has arrived since the last call; returns how many."""
        done = 0
        for notice in self.inbox.poll(200):  # a moment, so the group can join and fetch
            if notice.type != NoticeIssued.TYPE:
                continue
            d = notice.data
            channel = d["delivery_channel"]
            self.publisher.publish(NoticeDelivered.TYPE, {
                "event_id": delivered_id(d["notice_no"]), "occurred_at": at,
                "case": d["case"], "deadline": None, "notice_no": d["notice_no"], "kind": d["kind"],
                "delivery_channel": channel, "receipt": f"{_RECEIPTS.get(channel, channel)} {d['notice_no']}"})
            done += 1
        if done:
            self.publisher.flush()
            self.inbox.commit()
        self.delivered += done
        return done

    def close(self) -> None:
        self.inbox.close()
        self.publisher.close()
