// A tool's binary: the shared launcher (the tool named like the binary).
corescope::launcher!();
