// A tool's binary: the shared launcher (runs the tool named like the binary).
corescope::launcher!();
