"""Reference LCM decoding with the SDK types (generated fast decoders)."""
