/* migrations.h - the numbered schema steps (private to the store). */
#ifndef CUBBY_STORE_MIGRATIONS_H
#define CUBBY_STORE_MIGRATIONS_H

extern const char *const db_migrations[];

#endif
