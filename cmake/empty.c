/* Khiên — placeholder so that khien_centre is never an empty library. */
int kh_centre_empty_placeholder(void);
int kh_centre_empty_placeholder(void) { return 0; }
