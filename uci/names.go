package uci

// ValidName reports whether s may name a section or an option: libuci
// allows letters, digits and '_' only.
func ValidName(s string) bool { return validName(s) }
