"""How hard the simulated platform is: the overlaps between populations, as named presets.

``easy`` is the simulator as it was first written: every overlap is zero and
the output is byte-identical to it. ``realistic`` adds what issue 15 found
missing (ordinary people sharing devices and addresses, farms that share
nothing, crews that share nothing, power likers with honest negative reviews,
unhappy customers who ask for large compensation in words close to a demand,
merchants who pay for real faults, the Dianping profile); ``hard`` pushes the
same overlaps further. docs/simulator.md gives the best single feature's
ROC-AUC per risk for each.

Every draw these overlaps need comes from the chunk's own ``realism`` random
stream, so a zero overlap changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Difficulty = Literal["easy", "realistic", "hard"]
DIFFICULTIES: tuple[str, ...] = ("easy", "realistic", "hard")


@dataclass(frozen=True)
class Realism:
    """Overlaps between populations; all zero is the ``easy`` platform."""

    # Ordinary people (and unhappy customers, power likers) who share a device or an
    # address with another ordinary account: families, dormitories, internet cafés,
    # second-hand phones.
    shared_device_share: float = 0.0
    shared_address_share: float = 0.0
    # Bot farms with one device per account (rotating, behind many addresses).
    farm_own_device_share: float = 0.0
    # Bot accounts run alone by their operator: no group, no lockstep.
    solo_bot_share: float = 0.0
    # Farms that copy humans in every respect at once (own devices, human timing,
    # sleep, opening items, members hours apart, few customer items): the
    # disguises are correlated, so no single tell is left for a model to combine.
    disguised_farm_share: float = 0.0
    # Evasive scripts: share of groups (added to the drifting share), and those that
    # open most items with a human-looking dwell.
    evasive_share_extra: float = 0.0
    evasive_opens_share: float = 0.0
    # Farms that time likes like a human (lognormal gaps, some under a second), that
    # sleep at night, that run bought high-level accounts.
    bot_human_gaps_share: float = 0.0
    bot_daytime_share: float = 0.0
    bot_high_level_share: float = 0.0
    # Crews that share no device and no address; attacks on shops of any size.
    crew_share_nothing: float = 0.0
    crew_any_shop_share: float = 0.0
    # Crews whose buyer waits days before the review, like a real buyer; unhappy
    # customers who review within hours of delivery.
    crew_patient_share: float = 0.0
    unhappy_quick_share: float = 0.0
    # Power likers: who also write honest negative reviews, and who mostly like from
    # the feed without opening (fast, long sessions).
    power_negative_review_share: float = 0.0
    power_feed_liker_share: float = 0.0
    # Power likers who are fans of a few writers and like much of what they post.
    fan_share: float = 0.0
    # Power likers in fan clubs (饭圈) that like their idol's new posts together,
    # within minutes of each release: humans in lockstep, as farms are.
    fan_club_share: float = 0.0
    # Power likers who open nearly everything, who like late at night, who are mid-level.
    careful_power_share: float = 0.0
    night_owl_share: float = 0.0
    mid_level_power_share: float = 0.0
    # Unhappy customers: large compensation asked in words close to a demand, at
    # small shops; merchants paying compensation for real faults.
    unhappy_big_claim_share: float = 0.0
    unhappy_small_shop_share: float = 0.0
    merchant_compensation_share: float = 0.0
    # Merchants reporting honest negative reviews (the complaint channel is noisy).
    honest_review_report_rate: float = 0.0
    # The Dianping profile: long-running high-level heavy likers (share of all
    # accounts); the share of them operated with tools (abusers), the rest human.
    heavy_liker_share: float = 0.0
    heavy_tool_share: float = 0.5
    # Decisions on hard negatives spread over the period, not bunched at its end.
    spread_decisions: bool = False
    # Demand messages from a grammar (paraphrases, typos, pinyin, emoji, amounts in
    # words or in an image), and legitimate messages sharing words with demands.
    varied_language: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Realism] = {
    "easy": Realism(),
    "realistic": Realism(
        shared_device_share=0.05,
        shared_address_share=0.06,
        farm_own_device_share=0.4,
        disguised_farm_share=0.35,
        solo_bot_share=0.25,
        evasive_share_extra=0.15,
        evasive_opens_share=0.5,
        bot_human_gaps_share=0.5,
        bot_daytime_share=0.5,
        bot_high_level_share=0.3,
        crew_share_nothing=0.4,
        crew_any_shop_share=0.35,
        crew_patient_share=0.4,
        unhappy_quick_share=0.3,
        power_negative_review_share=0.3,
        power_feed_liker_share=0.3,
        careful_power_share=0.3,
        fan_share=0.5,
        fan_club_share=0.3,
        night_owl_share=0.15,
        mid_level_power_share=0.3,
        unhappy_big_claim_share=0.25,
        unhappy_small_shop_share=0.4,
        merchant_compensation_share=0.3,
        honest_review_report_rate=0.04,
        heavy_liker_share=0.0002,
        heavy_tool_share=0.5,
        spread_decisions=True,
        varied_language=True,
    ),
    "hard": Realism(
        shared_device_share=0.08,
        shared_address_share=0.1,
        farm_own_device_share=0.6,
        disguised_farm_share=0.55,
        solo_bot_share=0.4,
        evasive_share_extra=0.3,
        evasive_opens_share=0.7,
        bot_human_gaps_share=0.7,
        bot_daytime_share=0.7,
        bot_high_level_share=0.45,
        crew_share_nothing=0.6,
        crew_any_shop_share=0.5,
        crew_patient_share=0.55,
        unhappy_quick_share=0.4,
        power_negative_review_share=0.4,
        power_feed_liker_share=0.45,
        careful_power_share=0.35,
        fan_share=0.6,
        fan_club_share=0.45,
        night_owl_share=0.25,
        mid_level_power_share=0.4,
        unhappy_big_claim_share=0.4,
        unhappy_small_shop_share=0.6,
        merchant_compensation_share=0.45,
        honest_review_report_rate=0.08,
        heavy_liker_share=0.0004,
        heavy_tool_share=0.5,
        spread_decisions=True,
        varied_language=True,
    ),
}
