-- Logs kept per run are capped (newest kept); this counts the older ones dropped to stay within it.
ALTER TABLE `runs` ADD `logs_dropped` integer DEFAULT 0 NOT NULL;
