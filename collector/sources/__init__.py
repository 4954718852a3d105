"""Where collector's data comes from: the Hub client and the parsing of its answers."""
