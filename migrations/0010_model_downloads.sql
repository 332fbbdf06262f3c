-- Model downloads to machines (POST /models/{name}/download): one row per target machine. The source
-- is an http(s) URL or a file of the tenant's storage (signed afresh each time it is sent to an agent).
CREATE TABLE `model_downloads` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`machine_id` text NOT NULL,
	`folder` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`source_url` text,
	`source_file_id` text,
	`expected_sha256` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`bytes_done` integer DEFAULT 0 NOT NULL,
	`bytes_total` integer,
	`sha256` text,
	`error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text NOT NULL,
	`finished_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`machine_id`) REFERENCES `machines`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `model_downloads_user_name_idx` ON `model_downloads` (`user_id`,`name`);
--> statement-breakpoint
CREATE INDEX `model_downloads_machine_status_idx` ON `model_downloads` (`machine_id`,`status`);
