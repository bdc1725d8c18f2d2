"""Screenshots agents send: received in bounded pieces, stored under blobs, served with `desktop:view`."""
