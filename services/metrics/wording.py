"""What charts and reports say, in the languages a report is rendered in, and how numbers and
dates are written in each. Hebrew is laid out right to left (see `visual`)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from bidi.algorithm import get_display

LANGUAGES = ("en", "he", "is")
RTL = frozenset({"he"})

MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "he": (
        "ינו׳",
        "פבר׳",
        "מרץ",
        "אפר׳",
        "מאי",
        "יוני",
        "יולי",
        "אוג׳",
        "ספט׳",
        "אוק׳",
        "נוב׳",
        "דצמ׳",
    ),
    "is": (
        "jan.",
        "feb.",
        "mar.",
        "apr.",
        "maí",
        "jún.",
        "júl.",
        "ágú.",
        "sep.",
        "okt.",
        "nóv.",
        "des.",
    ),
}
WEEKDAYS = {  # Monday first, as the best-times grid is
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "he": ("ב׳", "ג׳", "ד׳", "ה׳", "ו׳", "ש׳", "א׳"),
    "is": ("mán", "þri", "mið", "fim", "fös", "lau", "sun"),
}

_WORDS: dict[str, dict[str, str]] = {
    "report_title": {
        "en": "Social media report",
        "he": "דוח רשתות חברתיות",
        "is": "Skýrsla um samfélagsmiðla",
    },
    "period": {"en": "Period", "he": "תקופה", "is": "Tímabil"},
    "previous_period": {"en": "Previous period", "he": "תקופה קודמת", "is": "Fyrra tímabil"},
    "scope": {"en": "Scope", "he": "היקף", "is": "Umfang"},
    "whole_workspace": {"en": "All channels", "he": "כל הערוצים", "is": "Allar rásir"},
    "campaign": {"en": "Campaign", "he": "קמפיין", "is": "Herferð"},
    "channels": {"en": "Channels", "he": "ערוצים", "is": "Rásir"},
    "time_zone": {"en": "Time zone", "he": "אזור זמן", "is": "Tímabelti"},
    "summary": {"en": "Summary", "he": "סיכום", "is": "Samantekt"},
    "figure": {"en": "Figure", "he": "מדד", "is": "Mæling"},
    "this_period": {"en": "This period", "he": "תקופה זו", "is": "Þetta tímabil"},
    "change": {"en": "Change", "he": "שינוי", "is": "Breyting"},
    "posts_published": {"en": "Posts published", "he": "פוסטים שפורסמו", "is": "Birtar færslur"},
    "engagements": {"en": "Engagements", "he": "מעורבויות", "is": "Viðbrögð"},
    "engagement_rate": {"en": "Engagement rate", "he": "שיעור מעורבות", "is": "Viðbragðshlutfall"},
    "views": {"en": "Views", "he": "צפיות", "is": "Áhorf"},
    "reach": {"en": "Reach", "he": "חשיפה", "is": "Útbreiðsla"},
    "followers_gained": {"en": "Followers gained", "he": "עוקבים חדשים", "is": "Nýir fylgjendur"},
    "clicks": {"en": "Clicks", "he": "הקלקות", "is": "Smellir"},
    "conversions": {"en": "Conversions", "he": "המרות", "is": "Umbreytingar"},
    "engagement_over_time": {
        "en": "Engagement over time by network",
        "he": "מעורבות לאורך זמן לפי רשת",
        "is": "Viðbrögð yfir tíma eftir miðli",
    },
    "date": {"en": "Date", "he": "תאריך", "is": "Dagsetning"},
    "engagements_per_day": {
        "en": "Engagements per day",
        "he": "מעורבויות ליום",
        "is": "Viðbrögð á dag",
    },
    "best_times": {
        "en": "Best times to post",
        "he": "הזמנים הטובים לפרסום",
        "is": "Bestu tímar til að birta",
    },
    "hour": {"en": "Hour of day", "he": "שעה ביום", "is": "Klukkustund"},
    "weekday": {"en": "Day of week", "he": "יום בשבוע", "is": "Vikudagur"},
    "score": {
        "en": "Score (engagements per view)",
        "he": "ציון (מעורבות לצפייה)",
        "is": "Einkunn (viðbrögð á áhorf)",
    },
    "recommended": {"en": "Recommended", "he": "מומלץ", "is": "Mælt með"},
    "top_posts": {"en": "Top posts", "he": "הפוסטים המובילים", "is": "Bestu færslurnar"},
    "bottom_posts": {"en": "Weakest posts", "he": "הפוסטים החלשים", "is": "Slökustu færslurnar"},
    "post": {"en": "Post", "he": "פוסט", "is": "Færsla"},
    "network": {"en": "Network", "he": "רשת", "is": "Miðill"},
    "published": {"en": "Published", "he": "פורסם", "is": "Birt"},
    "no_text": {"en": "(no text)", "he": "(ללא טקסט)", "is": "(enginn texti)"},
    "clicks_conversions": {
        "en": "Clicks and conversions by campaign",
        "he": "הקלקות והמרות לפי קמפיין",
        "is": "Smellir og umbreytingar eftir herferð",
    },
    "count": {"en": "Count", "he": "מספר", "is": "Fjöldi"},
    "no_campaign": {"en": "(none)", "he": "(ללא)", "is": "(engin)"},
    "links_conversions": {
        "en": "Links and conversions",
        "he": "קישורים והמרות",
        "is": "Tenglar og umbreytingar",
    },
    "conversion_rate": {"en": "Conversion rate", "he": "שיעור המרה", "is": "Umbreytingarhlutfall"},
    "value": {"en": "Value", "he": "ערך", "is": "Virði"},
    "inbox": {"en": "Inbox and crisis", "he": "תיבת הודעות ומשברים", "is": "Innhólf og krísur"},
    "inbox_by_language": {
        "en": "Inbox volume and sentiment by language",
        "he": "נפח הודעות וסנטימנט לפי שפה",
        "is": "Fjöldi skilaboða og viðhorf eftir tungumáli",
    },
    "language": {"en": "Language", "he": "שפה", "is": "Tungumál"},
    "messages": {"en": "Messages", "he": "הודעות", "is": "Skilaboð"},
    "sentiment": {
        "en": "Mean sentiment (−1 to 1)",
        "he": "סנטימנט ממוצע (‎−1 עד 1)",
        "is": "Meðalviðhorf (−1 til 1)",
    },
    "unknown_language": {"en": "unknown", "he": "לא ידוע", "is": "óþekkt"},
    "response_times": {
        "en": "First response time",
        "he": "זמן תגובה ראשונה",
        "is": "Tími að fyrsta svari",
    },
    "hours": {"en": "Hours", "he": "שעות", "is": "Klukkustundir"},
    "hours_unit": {"en": "hours", "he": "שעות", "is": "klst."},
    "median": {"en": "Median", "he": "חציון", "is": "Miðgildi"},
    "p90": {"en": "90th percentile", "he": "אחוזון 90", "is": "90. hundraðsmark"},
    "first_response_p50": {
        "en": "First response, median",
        "he": "תגובה ראשונה, חציון",
        "is": "Fyrsta svar, miðgildi",
    },
    "resolution_p50": {"en": "Resolution, median", "he": "פתרון, חציון", "is": "Úrlausn, miðgildi"},
    "crisis_alerts": {"en": "Crisis alerts", "he": "התראות משבר", "is": "Krísuviðvaranir"},
    "crisis_open": {"en": "still open", "he": "עדיין פתוחות", "is": "enn opnar"},
    "no_data": {
        "en": "No data in this period",
        "he": "אין נתונים בתקופה זו",
        "is": "Engin gögn á þessu tímabili",
    },
    "post_views": {
        "en": "Views of the post over time",
        "he": "צפיות בפוסט לאורך זמן",
        "is": "Áhorf á færsluna yfir tíma",
    },
    "generated": {"en": "Generated", "he": "הופק", "is": "Búið til"},
    "page": {"en": "Page", "he": "עמוד", "is": "Síða"},
}


def word(key: str, language: str) -> str:
    return _WORDS[key][language]


def visual(text: str) -> str:
    """Right-to-left runs in display order, brackets mirrored (what a renderer without bidi
    support must draw); text without them is returned as it is. The pure-Python algorithm of
    python-bidi is used because its compiled one does not mirror brackets."""
    if any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text):
        return str(get_display(text))
    return text


def number(value: float | None, language: str, *, digits: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if language == "is":  # 1.234,5
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def percent(value: float | None, language: str, *, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = number(abs(value) * 100, language, digits=digits) + "%"
    if signed:
        text = ("+" if value >= 0 else "−") + text
    return text


def day(value: date | datetime, language: str) -> str:
    month = MONTHS[language][value.month - 1]
    if language == "en":
        return f"{value.day} {month} {value.year}"
    return (
        f"{value.day}. {month} {value.year}"
        if language == "is"
        else (f"{value.day} ב{month} {value.year}")
    )


def short_day(value: date | datetime, language: str) -> str:
    month = MONTHS[language][value.month - 1]
    return f"{value.day}. {month}" if language == "is" else f"{value.day} {month}"
