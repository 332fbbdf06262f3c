CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer,
	`status` text DEFAULT 'pending' NOT NULL,
	`purpose` text DEFAULT 'upload' NOT NULL,
	`folder` text DEFAULT '/' NOT NULL,
	`description` text,
	`sha256` text,
	`upload_id` text,
	`part_size` integer,
	`run_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text,
	`expires_at` text,
	`confirmed_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_r2_key_unique` ON `files` (`r2_key`);--> statement-breakpoint
CREATE INDEX `files_user_created_idx` ON `files` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `files_user_purpose_folder_idx` ON `files` (`user_id`,`purpose`,`folder`);--> statement-breakpoint
CREATE INDEX `files_status_expires_idx` ON `files` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `files_run_idx` ON `files` (`run_id`);