-- How far back an import (POST /api/import) of a site may reach: events older than this many days are
-- refused. 0, the default, means no lower bound: site owners import logs precisely because they hold
-- history. Live endpoints and POST /api/events keep the collector's own bounds.
ALTER TABLE {db}.sites ADD COLUMN import_max_age_days UInt32 DEFAULT 0;
