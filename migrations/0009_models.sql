-- The model files each ComfyUI instance of a machine reports (its `GET /models/{folder}` lists), and
-- the hash of that inventory, so an agent that reconnects with nothing changed sends no list.
CREATE TABLE `machine_model_sets` (
	`machine_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`hash` text NOT NULL,
	`reported_at` text NOT NULL,
	PRIMARY KEY(`machine_id`, `instance_id`),
	FOREIGN KEY (`machine_id`) REFERENCES `machines`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `machine_models` (
	`machine_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`folder` text NOT NULL,
	`name` text NOT NULL,
	`size_bytes` integer,
	`modified_at` integer,
	`sha256` text,
	PRIMARY KEY(`machine_id`, `instance_id`, `folder`, `name`),
	FOREIGN KEY (`machine_id`) REFERENCES `machines`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `machine_models_name_idx` ON `machine_models` (`name`);
