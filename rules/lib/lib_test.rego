package tokenwarden.lib_test

import data.tokenwarden.lib

test_fmt_days_rounds_to_two_decimals if {
	lib.fmt_days(7) == "7"
	lib.fmt_days(7.0) == "7"
	lib.fmt_days(100.5) == "100.5"
	lib.fmt_days(1.05) == "1.05"
	lib.fmt_days(12.3456) == "12.35"
	lib.fmt_days(89.999) == "90"
	lib.fmt_days(0.004) == "0"
	lib.fmt_days(-0.004) == "0"
	lib.fmt_days(-2.5) == "-2.5"
	lib.fmt_days(-52.25) == "-52.25"
}

test_fmt_days_large_and_exact_values if {
	lib.fmt_days(0) == "0"
	lib.fmt_days(365) == "365"
	lib.fmt_days(90.01) == "90.01"
	lib.fmt_days(1000.1) == "1000.1"
	lib.fmt_days(-0.006) == "-0.01"
}

test_negative_sign_only_when_the_rounded_value_is_not_zero if {
	lib.negative_sign(-1, 100) == "-"
	lib.negative_sign(-0.001, 0) == ""
	lib.negative_sign(0, 0) == ""
	lib.negative_sign(2, 200) == ""
}

test_group_name_prefers_the_name if {
	lib.group_name({"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}) == "Zone Read"
}

test_group_name_falls_back_to_the_id if {
	lib.group_name({"id": "c8fed203ed3043cba015a93ad1616f1f", "name": ""}) == "c8fed203ed3043cba015a93ad1616f1f"
	lib.group_name({"id": "c8fed203ed3043cba015a93ad1616f1f", "name": null}) == "c8fed203ed3043cba015a93ad1616f1f"
	lib.group_name({"id": "c8fed203ed3043cba015a93ad1616f1f"}) == "c8fed203ed3043cba015a93ad1616f1f"
}

test_normalize_group_name_treats_edit_as_write if {
	lib.normalize_group_name("DNS Write") == "dns write"
	lib.normalize_group_name("  DNS Edit ") == "dns write"
	lib.normalize_group_name("API Tokens EDIT") == "api tokens write"
	lib.normalize_group_name("Zone Read") == "zone read"
	lib.normalize_group_name("Editor") == "editor"
}
