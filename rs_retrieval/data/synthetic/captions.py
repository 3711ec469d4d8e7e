"""The caption grammar of the synthetic dataset: English and Arabic words, caption templates, `caption_scene`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenes import SceneSpec

CAPTIONS_PER_IMAGE = 5


# --------------------------------------------------------------------------------------------------------------
# Words: English and Modern Standard Arabic counted phrases with number-noun-adjective agreement
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Noun:
    """A counted noun; every one used here is non-human, so its plural takes feminine singular adjectives."""

    en: str
    en_plural: str
    ar: str
    ar_dual: tuple[str, str]  # nominative, genitive
    ar_plural: str
    feminine: bool


@dataclass(frozen=True)
class _Adjective:
    """An Arabic adjective in the forms agreement needs (duals as nominative, genitive), with its English word."""

    en: str
    masculine: str
    feminine: str
    dual_masculine: tuple[str, str]
    dual_feminine: tuple[str, str]
    definite: str = ""  # as in "باللون الأحمر" (in the colour red), which needs no agreement


NOUNS: dict[str, _Noun] = {
    "airplane": _Noun("airplane", "airplanes", "طائرة", ("طائرتان", "طائرتين"), "طائرات", feminine=True),
    "car": _Noun("car", "cars", "سيارة", ("سيارتان", "سيارتين"), "سيارات", feminine=True),
    "tank": _Noun("storage tank", "storage tanks", "خزان", ("خزانان", "خزانين"), "خزانات", feminine=False),
}

COLOURS: dict[str, _Adjective] = {
    "white": _Adjective("white", "أبيض", "بيضاء", ("أبيضان", "أبيضين"), ("بيضاوان", "بيضاوين"), "الأبيض"),
    "red": _Adjective("red", "أحمر", "حمراء", ("أحمران", "أحمرين"), ("حمراوان", "حمراوين"), "الأحمر"),
    "blue": _Adjective("blue", "أزرق", "زرقاء", ("أزرقان", "أزرقين"), ("زرقاوان", "زرقاوين"), "الأزرق"),
    "yellow": _Adjective("yellow", "أصفر", "صفراء", ("أصفران", "أصفرين"), ("صفراوان", "صفراوين"), "الأصفر"),
    "green": _Adjective("green", "أخضر", "خضراء", ("أخضران", "أخضرين"), ("خضراوان", "خضراوين"), "الأخضر"),
    "grey": _Adjective("grey", "رمادي", "رمادية", ("رماديان", "رماديين"), ("رماديتان", "رماديتين"), "الرمادي"),
    "orange": _Adjective("orange", "برتقالي", "برتقالية", ("برتقاليان", "برتقاليين"), ("برتقاليتان", "برتقاليتين"),
                         "البرتقالي"),
    "brown": _Adjective("brown", "بني", "بنية", ("بنيان", "بنيين"), ("بنيتان", "بنيتين"), "البني"),
}
_PARKED = _Adjective("parked", "متوقف", "متوقفة", ("متوقفان", "متوقفين"), ("متوقفتان", "متوقفتين"))

EN_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# Arabic 3..10 take the opposite gender of the counted noun: the short form counts feminine nouns.
_AR_NUMBERS_FOR_FEMININE = {3: "ثلاث", 4: "أربع", 5: "خمس", 6: "ست", 7: "سبع", 8: "ثماني", 9: "تسع", 10: "عشر"}
_AR_NUMBERS_FOR_MASCULINE = {3: "ثلاثة", 4: "أربعة", 5: "خمسة", 6: "ستة", 7: "سبعة", 8: "ثمانية", 9: "تسعة", 10: "عشرة"}
_CASES = {"nom": 0, "gen": 1}


def _check_count(count: int) -> None:
    if not 1 <= count <= 10:
        raise ValueError(f"counted phrases cover 1..10 objects, got {count}")


def english_count(count: int, noun: str, colour: str | None = None) -> str:
    """'three white airplanes', 'one red car'."""
    _check_count(count)
    entry = NOUNS[noun]
    words = [EN_NUMBERS[count]] + ([COLOURS[colour].en] if colour else [])
    return " ".join([*words, entry.en if count == 1 else entry.en_plural])


def arabic_adjective(adjective: _Adjective, count: int, feminine: bool, case: str = "nom") -> str:
    """The form of `adjective` that agrees with `count` non-human things of the given gender and case."""
    if count == 1:
        return adjective.feminine if feminine else adjective.masculine
    if count == 2:
        return (adjective.dual_feminine if feminine else adjective.dual_masculine)[_CASES[case]]
    return adjective.feminine  # a non-human plural takes a feminine singular adjective


def arabic_count(count: int, noun: str, colour: str | None = None, case: str = "nom") -> str:
    """'ثلاث طائرات بيضاء', 'طائرتان بيضاوان', 'خزان رمادي واحد', 'ثمانية خزانات'.

    One: singular noun, adjective, then واحد/واحدة; two: the dual alone (its ending shows the case);
    three to ten: the number in the opposite gender to the noun, then the plural.
    """
    _check_count(count)
    entry = NOUNS[noun]
    adjective = [arabic_adjective(COLOURS[colour], count, entry.feminine, case)] if colour else []
    if count == 1:
        return " ".join([entry.ar, *adjective, "واحدة" if entry.feminine else "واحد"])
    if count == 2:
        return " ".join([entry.ar_dual[_CASES[case]], *adjective])
    numbers = _AR_NUMBERS_FOR_FEMININE if entry.feminine else _AR_NUMBERS_FOR_MASCULINE
    return " ".join([numbers[count], entry.ar_plural, *adjective])


POSITIONS: dict[str, tuple[str, str]] = {
    "left": ("on the left side of the image", "على الجانب الأيسر من الصورة"),
    "right": ("on the right side of the image", "على الجانب الأيمن من الصورة"),
    "top": ("at the top of the image", "في أعلى الصورة"),
    "bottom": ("at the bottom of the image", "في أسفل الصورة"),
    "center": ("in the center of the image", "في وسط الصورة"),
}
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top", "center": "center"}
_DIRECTIONS = {
    "horizontal": ("from left to right", "من اليسار إلى اليمين"),
    "vertical": ("from top to bottom", "من الأعلى إلى الأسفل"),
}
_ORIENTATIONS = {"horizontal": ("horizontally", "بشكل أفقي"), "vertical": ("vertically", "بشكل عمودي")}
_ROWS = {1: ("a single row", "صف واحد"), 2: ("two rows", "صفين")}

# The counted noun of each scene that has one.
COUNTED_NOUNS = {"airport": "airplane", "parking_lot": "car", "storage_tanks": "tank"}


# --------------------------------------------------------------------------------------------------------------
# Caption templates: (English, Arabic) pairs that translate each other
# --------------------------------------------------------------------------------------------------------------

# English fields: objs ("three white airplanes"), objs_plain ("three airplanes"), be, side, opposite, dir,
# orient, colour, rows. Arabic fields: objs / objs_gen (nominative / genitive), objs_plain / objs_plain_gen,
# parked (agreeing), side, opposite, dir, orient, colour_m, colour_f, colour_def, rows (genitive).
CAPTION_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "airport": (
        ("an airport with {objs} parked next to the runway", "مطار فيه {objs} {parked} بجانب المدرج"),
        ("{objs} parked next to a grey runway", "{objs} {parked} بجانب مدرج رمادي"),
        ("an aerial view of an airport with {objs_plain} {side}", "صورة جوية لمطار مع {objs_plain_gen} {side}"),
        ("an airport runway running {dir} with {objs} beside it", "مدرج مطار يمتد {dir} وبجانبه {objs}"),
        ("{objs_plain} {be} parked {side} next to the runway", "{objs_plain} {parked} {side} بجانب المدرج"),
        ("the airport has {objs_plain} {side}", "في المطار {objs_plain} {side}"),
    ),
    "farmland": (
        ("farmland divided into rectangular fields", "أراض زراعية مقسمة إلى حقول مستطيلة"),
        ("farmland with many fields, mostly {colour}", "أراض زراعية فيها حقول كثيرة معظمها باللون {colour_def}"),
        ("{colour} and brown crop fields of a farm seen from above",
         "حقول محاصيل {colour_f} وبنية في مزرعة كما تبدو من الأعلى"),
        ("an aerial view of farmland with {colour} crops", "صورة جوية لأراض زراعية ذات محاصيل {colour_f}"),
        ("a patchwork of rectangular farm fields", "مجموعة من الحقول الزراعية المستطيلة"),
        ("cultivated {colour} fields separated by narrow dirt paths",
         "حقول مزروعة {colour_f} تفصل بينها ممرات ترابية ضيقة"),
    ),
    "river": (
        ("a winding blue river crosses the land {dir}", "نهر أزرق متعرج يعبر الأرض {dir}"),
        ("a river flowing through {colour} land", "نهر يجري عبر أرض {colour_f}"),
        ("an aerial view of a winding river", "صورة جوية لنهر متعرج"),
        ("a blue river with {colour} land on both banks", "نهر أزرق على ضفتيه أرض {colour_f}"),
        ("the river winds {dir} across the image", "يتعرج النهر {dir} عبر الصورة"),
        ("a winding river surrounded by {colour} land", "نهر متعرج تحيط به أرض {colour_f}"),
    ),
    "residential": (
        ("a residential area of houses with {colour} roofs", "منطقة سكنية فيها منازل ذات أسطح {colour_f}"),
        ("many houses with {colour} roofs arranged in rows along the streets",
         "منازل كثيرة ذات أسطح {colour_f} مصطفة على طول الشوارع"),
        ("dense residential buildings separated by grey roads", "مبان سكنية كثيفة تفصل بينها طرق رمادية"),
        ("an aerial view of a neighborhood of houses with {colour} roofs",
         "صورة جوية لحي سكني منازله ذات أسطح {colour_f}"),
        ("rows of small houses in a residential area", "صفوف من المنازل الصغيرة في منطقة سكنية"),
        ("a residential district whose streets form a regular grid", "حي سكني تشكل شوارعه شبكة منتظمة"),
    ),
    "forest": (
        ("a dense forest of dark green trees", "غابة كثيفة من الأشجار الخضراء الداكنة"),
        ("a forest with a small clearing {side}", "غابة فيها مساحة خالية صغيرة {side}"),
        ("many trees cover the area, with a bare patch {side}", "أشجار كثيرة تغطي المنطقة مع بقعة جرداء {side}"),
        ("an aerial view of a dense green forest", "صورة جوية لغابة خضراء كثيفة"),
        ("dark green trees fill the image except for a clearing {side}",
         "أشجار خضراء داكنة تملأ الصورة باستثناء مساحة خالية {side}"),
        ("the trees of the forest surround a brown clearing {side}", "أشجار الغابة تحيط بمساحة خالية بنية {side}"),
    ),
    "beach": (
        ("a sandy beach next to the blue sea", "شاطئ رملي بجانب البحر الأزرق"),
        ("the sea is {side} and the sand is {opposite}", "البحر {side} والرمال {opposite}"),
        ("white waves reach the yellow sandy beach", "أمواج بيضاء تصل إلى الشاطئ الرملي الأصفر"),
        ("an aerial view of a beach with the sea {side}", "صورة جوية لشاطئ يظهر فيها البحر {side}"),
        ("blue sea water meets the sand of the beach", "مياه البحر الزرقاء تلتقي برمال الشاطئ"),
        ("a coast with the sea {side} and a sandy beach {opposite}",
         "ساحل يقع فيه البحر {side} والشاطئ الرملي {opposite}"),
    ),
    "parking_lot": (
        ("a parking lot with {objs}", "موقف سيارات فيه {objs}"),
        ("{objs} parked in {rows} of a parking lot", "{objs} {parked} في {rows} داخل موقف سيارات"),
        ("an aerial view of a parking lot with {objs}", "صورة جوية لموقف سيارات مع {objs_gen}"),
        ("{objs_plain} {be} parked in a grey parking lot", "{objs_plain} {parked} في موقف سيارات رمادي"),
        ("the parking lot contains {objs_plain}", "يحتوي موقف السيارات على {objs_plain_gen}"),
        ("there {be} {objs} in the parking lot", "في موقف السيارات {objs}"),
    ),
    "storage_tanks": (
        ("{objs} in an industrial area", "{objs} في منطقة صناعية"),
        ("an industrial area with {objs} {side}", "منطقة صناعية فيها {objs} {side}"),
        ("an aerial view of {objs}", "صورة جوية ل{objs_gen}"),
        ("a storage facility with {objs_plain} {side}", "منشأة تخزين فيها {objs_plain} {side}"),
        ("{objs} next to a road", "{objs} بجانب طريق"),
        ("{objs} {be} located {side}", "{objs} {side}"),
    ),
    "bridge": (
        ("a bridge over a blue river", "جسر فوق نهر أزرق"),
        ("a road crosses the river over a bridge", "طريق يعبر النهر فوق جسر"),
        ("an aerial view of a bridge over a river", "صورة جوية لجسر فوق نهر"),
        ("a river flowing {dir} with a bridge crossing it", "نهر يجري {dir} ويعبره جسر"),
        ("a grey road bridge connects the two banks of the river", "جسر طريق رمادي يربط بين ضفتي النهر"),
        ("a bridge crossing a river between green banks", "جسر يعبر نهرا بين ضفتين خضراوين"),
    ),
    "stadium": (
        ("a stadium with green grass surrounded by a {colour} running track",
         "ملعب رياضي فيه عشب أخضر يحيط به مضمار جري {colour_m}"),
        ("an oval {colour} running track around a green football field",
         "مضمار جري بيضوي {colour_m} حول ملعب كرة قدم أخضر"),
        ("an aerial view of a sports stadium", "صورة جوية لملعب رياضي"),
        ("a football pitch inside a {colour} athletics track", "ملعب كرة قدم داخل مضمار {colour_m} لألعاب القوى"),
        ("an oval stadium lying {orient}", "ملعب رياضي بيضوي ممتد {orient}"),
        ("green grass and white lines inside a stadium with a {colour} track",
         "عشب أخضر وخطوط بيضاء داخل ملعب رياضي ذي مضمار {colour_m}"),
    ),
}


def _caption_fields(spec: SceneSpec) -> tuple[dict[str, str], dict[str, str]]:
    """The words the templates of `spec.scene` may ask for, in English and in Arabic."""
    en: dict[str, str] = {}
    ar: dict[str, str] = {}
    if spec.colour:
        colour = COLOURS[spec.colour]
        en["colour"] = colour.en
        ar.update(colour_m=colour.masculine, colour_f=colour.feminine, colour_def=colour.definite)
    if spec.position:
        en["side"], ar["side"] = POSITIONS[spec.position]
        en["opposite"], ar["opposite"] = POSITIONS[_OPPOSITE[spec.position]]
    if spec.orientation:
        en["dir"], ar["dir"] = _DIRECTIONS[spec.orientation]
        en["orient"], ar["orient"] = _ORIENTATIONS[spec.orientation]
    if spec.rows:
        en["rows"], ar["rows"] = _ROWS[spec.rows]
    noun = COUNTED_NOUNS.get(spec.scene)
    if noun is not None:
        feminine = NOUNS[noun].feminine
        en.update(
            objs=english_count(spec.count, noun, spec.colour),
            objs_plain=english_count(spec.count, noun),
            be="is" if spec.count == 1 else "are",
        )
        ar.update(
            objs=arabic_count(spec.count, noun, spec.colour),
            objs_gen=arabic_count(spec.count, noun, spec.colour, case="gen"),
            objs_plain=arabic_count(spec.count, noun),
            objs_plain_gen=arabic_count(spec.count, noun, case="gen"),
            parked=arabic_adjective(_PARKED, spec.count, feminine),
        )
    return en, ar


def caption_scene(spec: SceneSpec, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Five English and five Arabic captions of what `spec` says was drawn; caption i of each is a translation.

    The five come from five different templates of the scene, picked by `rng`.
    """
    templates = CAPTION_TEMPLATES[spec.scene]
    en_fields, ar_fields = _caption_fields(spec)
    picks = rng.choice(len(templates), size=CAPTIONS_PER_IMAGE, replace=False)
    english = [templates[i][0].format(**en_fields) for i in picks]
    arabic = [templates[i][1].format(**ar_fields) for i in picks]
    return english, arabic


__all__ = [
    "CAPTION_TEMPLATES",
    "CAPTIONS_PER_IMAGE",
    "COLOURS",
    "COUNTED_NOUNS",
    "EN_NUMBERS",
    "NOUNS",
    "POSITIONS",
    "arabic_adjective",
    "arabic_count",
    "caption_scene",
    "english_count",
]
