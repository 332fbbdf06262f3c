CREATE TABLE `machines` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`pool` text DEFAULT 'default' NOT NULL,
	`token_hash` text NOT NULL,
	`status` text DEFAULT 'offline' NOT NULL,
	`info` text,
	`last_seen_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`deleted_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `machines_token_hash_unique` ON `machines` (`token_hash`);--> statement-breakpoint
CREATE INDEX `machines_user_idx` ON `machines` (`user_id`);--> statement-breakpoint
CREATE TABLE `run_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` text NOT NULL,
	`at` text NOT NULL,
	`level` text NOT NULL,
	`message` text NOT NULL,
	`node_id` text,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_logs_run_idx` ON `run_logs` (`run_id`,`id`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`deployment_id` text,
	`workflow_id` text,
	`workflow_version_id` text,
	`pool` text DEFAULT 'default' NOT NULL,
	`status` text DEFAULT 'not-started' NOT NULL,
	`priority` integer DEFAULT 1 NOT NULL,
	`inputs` text NOT NULL,
	`graph` text NOT NULL,
	`outputs` text,
	`error` text,
	`progress` text,
	`metadata` text,
	`webhook_url` text,
	`timeout_minutes` integer,
	`machine_id` text,
	`prompt_id` text,
	`attempt` integer DEFAULT 0 NOT NULL,
	`retried_from` text,
	`origin` text DEFAULT 'api' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`queued_at` text,
	`started_at` text,
	`ended_at` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `runs_user_created_idx` ON `runs` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `runs_user_status_idx` ON `runs` (`user_id`,`status`);--> statement-breakpoint
CREATE INDEX `runs_deployment_idx` ON `runs` (`deployment_id`);