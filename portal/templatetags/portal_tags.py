from django import template
from django.utils.html import format_html

register = template.Library()

BADGE_COLOURS = frozenset({"grey", "blue", "green", "red", "amber", "violet", "teal"})


@register.simple_tag
def badge(label, colour="grey"):
    """A coloured pill; the colour comes from the ChoiceSet that declared the value."""
    colour = colour if colour in BADGE_COLOURS else "grey"
    return format_html('<span class="badge {}">{}</span>', colour, label)


@register.filter
def initials(user) -> str:
    name = (user.get_full_name() or user.get_username()).split()
    return "".join(part[0] for part in name[:2]).upper()


@register.filter
def duration(value) -> str:
    """A timedelta as '1 h 4 min', '3 min 2 s' or '0.4 s'."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
