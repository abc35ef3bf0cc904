"""Names of the water-T2 fit variants the book compares (keys of tables, labels of figures)."""

__all__ = ["METHODS"]

#: Method key → label used in tables and figures.
METHODS: dict[str, str] = {
    "epg_pipeline": "EPG, fat share from Dixon, smooth B1 (pipeline)",
    "epg_b1_free": "EPG, fat share from Dixon, voxel-wise B1",
    "epg_free": "EPG, fat share free",
    "monoexp": "mono-exponential (echoes 2-8)",
}
