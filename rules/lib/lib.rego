# The helpers several rules share. tokenwarden loads this package with every rule pack,
# built-in or custom (and for `rules test`), so any rule may use it:
#
#   import data.tokenwarden.lib
#   msg := sprintf("... %s days", [lib.fmt_days(days)])
#
# Like every rule, it uses only standard OPA built-ins and defines no name that shadows
# one (docs/writing-rules.md, "Portability"), so it means the same under OPA.
package tokenwarden.lib

# Days for messages: at most two decimals, trailing zeros dropped (365, 90.5, 90.01).
# One sprintf and a trim rather than a choice of formats: each function call and branch
# costs more than the arithmetic in regorus's VM, and this runs for every finding.
fmt_days(x) := concat("", [negative_sign(x, n), trim_right(trim_right(hundredths, "0"), ".")]) if {
	n := round(abs(x) * 100)
	hundredths := sprintf("%d.%02d", [(n - (n % 100)) / 100, n % 100])
}

# "-" for a negative x whose rounded hundredths n are not zero. (Once called `minus`,
# which under OPA replaced the built-in behind the `-` operator: issue 13.)
negative_sign(x, n) := "-" if {
	x < 0
	n > 0
} else := ""

# The name to show for a permission group: its name in the token, else its id.
group_name(g) := g.name if {
	is_string(g.name)
	g.name != ""
} else := g.id

# A group name as the list rules compare it: trimmed, lower case, and the older "Edit"
# spelled "Write" (the two are synonyms; tokenwarden's enrich normalises the token's
# names the same way into the facts' match_names).
normalize_group_name(s) := concat("", [trim_suffix(t, " edit"), " write"]) if {
	t := lower(trim_space(s))
	endswith(t, " edit")
} else := lower(trim_space(s))
