"""Simplified Chinese (zh-CN): the member-facing texts and the slash commands' descriptions.

Keys of ``MESSAGES`` are ``bot.messages.MessageKey`` values; every text keeps the English
text's ``{placeholders}``. Typed command and option names (``/emo animate``, ``style``…) stay
in English, as Discord shows them in every language.
"""

from __future__ import annotations

# The context menu's name, also the title of the form it opens.
ANIMATE_VOICE_MESSAGE = "用这条语音消息生成视频"

MESSAGES: dict[str, str] = {
    "checking": "正在检查您的照片和录音…",
    "queued": (
        "您的视频已加入队列（任务 #{job}，前面还有 {ahead} 个）。可在状态卡片中查看进度：{link}"
    ),
    "result": "{mention} 您的会说话的肖像已生成（{seconds} 秒，任务 #{job}）。",
    "result_shrunk": (
        "{mention} 您的会说话的肖像已生成（{seconds} 秒，任务 #{job}），并已重新编码以符合"
        "本频道 {limit_mb} MB 的上传限制。"
    ),
    "result_too_large": (
        "{mention} 您的视频（任务 #{job}）大小为 {size_mb} MB，超过本频道 {limit_mb} MB 的"
        "上传限制，且无法有效压缩。请在 24 小时内从这里下载：{url}"
    ),
    "image_unreadable": (
        "无法读取图片：文件已损坏或不是图片。请上传 JPEG、PNG、WebP、HEIC 或 AVIF 格式的照片。"
    ),
    "image_format": (
        "图片为 {format} 格式，无法使用。请上传 JPEG、PNG、WebP、HEIC、AVIF、GIF 或 BMP "
        "格式的照片。"
    ),
    "image_too_small": (
        "图片尺寸为 {width}×{height} px，短边至少需要 {minimum} px。请上传更大的照片。"
    ),
    "image_too_large_pixels": (
        "图片为 {megapixels} 百万像素，上限为 {limit} 百万像素。请上传更小的照片。"
    ),
    "image_aspect": (
        "图片尺寸为 {width}×{height} px，过于细长，无法让短边保持 {minimum} px。请将图片"
        "裁剪得更贴近人物。"
    ),
    "audio_unreadable": (
        "无法读取录音：文件已损坏、没有音轨，或使用了无法识别的编码。请上传语音消息，或 MP3、"
        "WAV、M4A、OGG、FLAC 文件。"
    ),
    "audio_too_long": "录音时长为 {seconds} 秒，上限为 {limit} 秒。请上传更短的录音。",
    "audio_too_short": "录音太短（{seconds} 秒）。请上传至少 {minimum} 秒的语音。",
    "audio_silent": "录音似乎没有声音。请靠近麦克风重新录制，并确认附加的是正确的文件。",
    "audio_longer_than": "录音超过了 {limit} 秒的上限。请上传更短的录音。",
    "audio_too_many_streams": (
        "文件包含超过 {limit} 条轨道；只接受含一条音轨的录音。请直接上传语音消息或音频文件本身。"
    ),
    "audio_sample_rate": (
        "录音的采样率为 {rate} Hz，可用范围为 {minimum}–{maximum} Hz。请上传语音消息，或普通的 "
        "MP3、WAV、M4A、OGG、FLAC 文件。"
    ),
    "media_too_costly": (
        "转换{what}文件耗时过长或占用内存过多：文件可能已损坏或结构特殊。请另存为普通文件（照片用 "
        "JPEG，录音用 MP3 或 M4A）后再上传。"
    ),
    "file_too_large": "{what}文件超过 {limit_mb} MB。请上传更小的文件。",
    "attachment_unavailable": "无法从 Discord 下载{what}文件。请附上文件后再次运行命令。",
    "no_face": "照片中没有找到人物。请使用一张清晰的单人正面照片。",
    "several_faces": "照片中不止一个人。请使用只有一个人的照片。",
    "face_framing": (
        "人物在画面中过大或过小，或者脸部侧转或被遮挡。请使用头部和肩部完整可见的正面照片。"
    ),
    "needs_half_body": "“半身”构图需要人物露出到臀部。请换一张照片，或选择“头部”构图。",
    "image_refused": "视频服务拒绝了这张照片（{reason}）。请换一张光线充足的单人正面照片再试。",
    "content_refused": "视频服务的内容过滤器拒绝了这些文件。请换一张照片或一段录音再试。",
    "provider_busy": "视频服务目前出现问题（任务 #{job}）。未产生任何费用。请几分钟后再试。",
    "own_key_unavailable": (
        "本服务器自己的 DashScope 密钥被拒绝（任务 #{job}）。未产生任何费用。服务器管理员"
        "可以用 `/emo-admin provider-key status` 查看原因（若设置了提醒频道，也会在那里"
        "看到）；修复后请再试。"
    ),
    "provider_unavailable": (
        "机器人的视频服务账户需要机器人运营者处理（任务 #{job}）。未产生任何费用。请告知"
        "服务器管理员，并稍后再试。"
    ),
    "render_failed": (
        "{mention} 视频服务无法完成任务 #{job}（{reason}）。请重试，或换一张照片或一段录音。"
    ),
    "result_source_refused": (
        "{mention} 视频服务已完成任务 #{job}，但视频来自机器人不下载的地址，因此没有获取。"
        "请告知服务器管理员：机器人的日志中记录了该地址。"
    ),
    "result_over_cap": (
        "{mention} 任务 #{job} 的视频超过了机器人可下载的上限 {limit_mb} MB，因此没有获取。"
        "请尝试更短的录音。"
    ),
    "result_not_stored": (
        "{mention} 任务 #{job} 的视频无法保存在机器人的服务器上（磁盘可能已满）。"
        "请告知服务器管理员，然后再次运行命令。"
    ),
    "result_unreachable": (
        "{mention} 无法从视频服务下载任务 #{job} 的视频：多次尝试后仍无响应。请稍后再次运行命令。"
    ),
    "result_not_video": (
        "{mention} 视频服务为任务 #{job} 发送的内容不是可播放的视频，因此没有发布任何内容。"
        "请再次运行命令。"
    ),
    "result_expired": "{mention} 任务 #{job} 的结果在发布前已在视频服务中过期。请再次运行命令。",
    "submit_uncertain": (
        "{mention} 机器人在向视频服务发送任务 #{job} 时重启了。为避免重复付费，没有再次发送。"
        "如果没有收到视频，请再次运行命令。"
    ),
    "delivery_failed": (
        "{mention} 任务 #{job} 已完成，但无法在这里发布。请确认机器人在本频道可以发送消息"
        "和附加文件。"
    ),
    "member_busy": (
        "您已有 {count} 个视频正在制作中（上限为 {limit} 个）。请等其中一个完成后再试。"
    ),
    "server_queue_full": (
        "本服务器的队列已满：{count} 个视频正在等待（上限为 {limit} 个）。请等部分视频完成后再试。"
    ),
    "render_stuck": (
        "{mention} 任务 #{job} 在视频服务中等待超过 {hours} 小时，已被取消，未产生任何费用。"
        "请再次运行命令。"
    ),
    "provider_paused": (
        "机器人的视频服务账户需要运营者处理，因此新视频会在队列中等待。您的视频（任务 #{job}）"
        "会保留位置，运营者处理完毕后即开始制作。"
    ),
    "restarting": "机器人正在重启。请一分钟后再试；已在队列中的任务会保留位置。",
    "owner_only": "只有机器人的所有者可以执行此操作。",
    "provider_resumed": "已恢复提交。",
    "provider_not_paused": "提交并未暂停。",
    "accounts_header": "视频服务账户：{count} 个。花费为本月（UTC 日历月）已计费的金额。",
    "accounts_line_active": (
        "**{account}**：运行中，已占用槽位 {busy}/{slots}，队列中等待 {waiting} 个，"
        "本月花费 ${spent}"
    ),
    "accounts_line_paused": (
        "**{account}**：自 {since} 起暂停（{code}），已占用槽位 {busy}/{slots}，"
        "队列中等待 {waiting} 个，本月花费 ${spent}"
    ),
    "accounts_more": "……另有 {count} 个账户。",
    "alert_provider_refused": (
        "DashScope 拒绝了机器人的账户（{code}：{message}）。所有服务器的提交已暂停，任务保留"
        "其排队位置。请检查账户（密钥、地域、余额、开通权限）；机器人会定期检测并自动恢复。"
    ),
    "alert_account_refused": (
        "DashScope 拒绝了机器人的账户 **{account}**（{code}：{message}）。该账户已暂停，"
        "其排队任务交由其他账户处理。请检查账户（密钥、余额、开通权限）；机器人会定期检测并自动恢复。"
    ),
    "alert_own_key_refused": (
        "DashScope 拒绝了本服务器自己的 API 密钥（{code}：{message}）。本服务器的任务已暂停并"
        "保留排队位置，其他服务器不受影响。请检查账户（密钥、余额、开通权限），或用 "
        "`/emo-admin provider-key set` 设置另一个密钥；机器人会定期检测该密钥并自动恢复。"
    ),
    "alert_render_slow": (
        "任务 {job}（提供方任务 {task}）已渲染超过 {hours} 小时；提供方会在 3 小时时停止它。"
    ),
    "word_image": "图片",
    "word_audio": "音频",
    "dm_not_allowed": "本服务器不通过私信发送结果。请不带 dm 选项再次运行命令。",
    "guild_only": "请在服务器频道中使用此命令。",
    "unexpected": (
        "我们这边出了问题（参考编号 {reference}）。请重试；如果问题持续出现，请告知服务器管理员。"
    ),
    "database_away": "机器人暂时无法连接数据库。请一分钟后重试；没有产生任何费用。",
    "job_delayed": (
        "任务 #{job} 已受理，但机器人的数据库暂时无法连接。连接恢复后任务会自动继续，"
        "状态卡片会显示进度。"
    ),
    # the status card
    "card_title": "🎬 **{mention} 的会说话的肖像** · 任务 #{job}",
    "card_checking": "⏳ 正在检查照片和录音…",
    "card_waiting_preparer": (
        "⏳ 正在排队等待检查：机器人一次只检查几位成员的文件。等待期间不会产生任何费用。"
    ),
    "card_queued": "🕒 排队中：前面还有 {ahead} 个 · 预计完成：{eta}",
    "card_paused_own_key": (
        "⏸️ 等待中：本服务器自己的 DashScope 密钥被拒绝；服务器管理员可以用 "
        "`/emo-admin provider-key status` 查看原因。此任务会保留位置。"
    ),
    "card_paused": "⏸️ 等待中：视频服务需要机器人运营者处理。此任务会保留位置。",
    "card_waiting_at_provider": "🕒 在视频服务中等待 · 预计完成：{eta}",
    "card_rendering": "🎞️ 生成中（开始于 {since}） · 预计完成：{eta}",
    "card_suspended": "⏸️ 视频服务暂时挂起了生成，会自动继续 · 预计完成：{eta}",
    "card_delivering": "📤 正在发布视频…",
    "card_done": "✅ 已完成：{link}",
    "card_sent_by_dm": "已通过私信发送",
    "card_canceled": "🚫 已取消。未产生任何费用。",
    "card_failed": "❌ 这次未能生成视频。",
    "card_estimate": "预估费用：${usd}",
    "card_cost": "费用：${usd}（{seconds} 秒视频）",
    "card_retry_hint": "添加 🔁 反应或点击“重试”即可重新生成。",
    "card_retry_of": "任务 #{original} 的重试",
    "card_stop_requested": "已请求取消，但生成已经开始：仍会收费，视频也会照常发布。",
    "button_cancel": "取消",
    "button_retry": "重试",
    "button_use_avatar": "使用我的头像",
    # cancel and retry
    "canceled": "任务 #{job} 在开始前已取消。未产生任何费用。",
    "cancel_removed": "任务 #{job} 已取消。未产生任何费用。",
    "cancel_at_provider": "任务 #{job} 已取消；它仍在视频服务中等待，因此未产生任何费用。",
    "cancel_running": "任务 #{job} 已在生成中，无法再停止。仍会收费，完成后会发布在这里。",
    "cancel_finished": "任务 #{job} 已经完成，没有可取消的内容。",
    "cancel_forbidden": "只有发起任务 #{job} 的成员或拥有“管理服务器”权限的成员才能取消它。",
    "job_not_found": "本服务器中没有任务 #{job}。使用 /emo jobs 可查看您的任务。",
    "nothing_to_cancel": "您没有正在制作的视频，没有可取消的内容。",
    "retry_pending": "任务 #{job} 的重试已在进行中。请等它完成后再请求。",
    "retry_not_finished": "任务 #{job} 仍在进行中。请等它完成后再重试。",
    "retry_inputs_gone": (
        "任务 #{job} 的照片和录音已不再保存（存储的文件会在一段时间后删除）。请附上文件，"
        "再次运行 /emo animate。"
    ),
    "retry_started": "任务 #{job} 正在以任务 #{new} 重新生成。",
    # the crop on the card, confirm before spending, framing help
    "state_awaiting": "等待确认",
    "card_awaiting": (
        "👀 请查看下方的图片：这正是将要动起来的区域。点击**确认**制作视频，或点击**取消**。"
        "确认之前不会产生任何费用；如无人确认，将于 {deadline} 取消。"
    ),
    "card_details": "🖼️ {framing} · 动作：{style} · {seconds} 秒",
    "card_reframe_hint": (
        "点击**头部 1:1**，即可用同一张照片和录音以头部为中心重新制作，无需重新上传。"
    ),
    "framing_head": "头部 1:1",
    "framing_half_body": "半身 3:4",
    "style_normal": "标准",
    "style_calm": "平静",
    "style_active": "活泼",
    "button_confirm": "确认",
    "button_reframe": "头部 1:1",
    "awaiting_confirmation": (
        "您的照片和录音已准备好（任务 #{job}）。状态卡片上显示了将要动起来的区域和费用，"
        "在那里点击“确认”即可制作视频。{link}"
    ),
    "confirmed": "已确认：任务 #{job} 已进入队列，前面还有 {ahead} 个。",
    "confirm_already": "任务 #{job} 已经确认过了。",
    "confirm_ended": "任务 #{job} 已结束，没有需要确认的内容。",
    "confirm_forbidden": "只有发起任务 #{job} 的成员或拥有“管理服务器”权限的成员才能确认它。",
    "confirm_timed_out": (
        "任务 #{job} 未在规定时间内确认，已被取消。未产生任何费用。如需制作，请再次运行命令。"
    ),
    "reframe_started": "正在用同一张照片和录音以头部构图（1:1）重新制作任务 #{job}：任务 #{new}。",
    "retry_forbidden": "只有发起任务 #{job} 的成员或拥有“管理服务器”权限的成员才能重试它。",
    # /emo queue, /emo jobs, /emo help
    "queue_server": (
        "本服务器：{waiting} 个等待中，{rendering} 个生成中。所有服务器合计，视频服务正在"
        "处理 {total} 个。"
    ),
    "queue_mine": "您的任务 #{job}：{state}，前面还有 {ahead} 个，预计完成：{eta}",
    "queue_not_mine": "您没有正在制作的视频。使用 /emo animate 开始制作。",
    "jobs_header": "您最近的任务：",
    "jobs_line": "#{job} · {state} · {when} {link}",
    "jobs_none": "您在本服务器还没有任务。使用 /emo animate 开始制作。",
    "help": (
        "**会说话的肖像**\n"
        "• /emo animate：附上一张单人照片和一段不超过 {seconds} 秒的录音（可以是语音消息）。"
        "选项：style（动作的活跃程度）、framing（头部或半身）、trim（使用较长录音的前 "
        "{seconds} 秒）、dm（通过私信接收视频）。\n"
        f"• 右键点击您自己的语音消息 → APP → {ANIMATE_VOICE_MESSAGE}。\n"
        "• 每个任务都有一张带“取消”按钮的状态卡片。仍在等待的任务可免费取消；开始生成后"
        "就无法停止，并会收费。\n"
        "• 在结果上添加 🔁 反应（或点击“重试”），即可用相同的文件重新生成。\n"
        "• /emo queue 查看您的排队位置，/emo jobs 查看您最近的任务，/emo cancel 停止您"
        "最新的任务。"
    ),
    "state_checking": "检查中",
    "state_queued": "排队中",
    "state_rendering": "生成中",
    "state_delivering": "发布中",
    "state_done": "已完成",
    "state_refused": "已拒绝",
    "state_failed": "失败",
    "state_canceled": "已取消",
    "state_expired": "已过期",
    # delivery by direct message, and its fallbacks
    "result_by_dm": "这是您在 {server} 制作的会说话的肖像（{seconds} 秒，任务 #{job}）。",
    "result_dms_closed": (
        "{mention} 您关闭了私信，所以在这里发送您的会说话的肖像（{seconds} 秒，任务 #{job}）。"
    ),
    "result_channel_forbidden": (
        "我无法在 <#{channel}> 发布内容，所以在这里发送您的会说话的肖像（{seconds} 秒，"
        "任务 #{job}）。请让服务器管理员允许机器人在该频道发送消息和文件。"
    ),
    # the "Animate this voice message" context menu
    "not_a_voice_message": "这条消息不是语音消息。请改用 /emo animate 并附上音频文件。",
    "voice_not_yours": "您只能用自己的语音消息生成视频。",
    "portrait_modal_title": ANIMATE_VOICE_MESSAGE,
    "portrait_label": "肖像照片",
    "portrait_hint": "一张单人照片，脸部清晰可见。留空则使用您的头像。",
    "use_avatar_confirm": (
        "您没有提供照片。要使用您的头像作为肖像吗？头像中必须清晰地显示一张脸。"
    ),
    # Server administration.
    "manage_server_required": "只有拥有“管理服务器”权限的成员才能执行此操作。",
    "others_data_forbidden": (
        "您只能查看自己的使用情况和视频。拥有“管理服务器”权限的成员可以查看所有人的。"
    ),
    "setting_out_of_range": (
        "`{setting}` 必须在 {minimum} 到 {maximum} 之间，因此不能使用 {value}。未做任何更改。"
    ),
    "setting_invalid": "{value} 不是 `{setting}` 的有效值。未做任何更改。",
    "setting_unknown": "没有名为 `{setting}` 的设置。",
    "setting_above_ceiling": (
        "本服务器的 `{setting}` 最多为 {ceiling}：这是机器人运营者设定的上限，服务器可以调低但"
        "不能调高。因此不能使用 {value}。未做任何更改。"
    ),
    "value_ceiling": "{value}（运营者的上限：{ceiling}）",
    "value_clamped": "{value}（运营者的上限：本服务器自己设定的 {stored} 超过了它）",
    "settings_nothing_given": "请至少提供一项要更改的设置，例如 `/emo-admin set queue_cap:10`。",
    "settings_view": (
        "**本服务器的设置**（✱ 表示由本服务器设置，其余为机器人的默认值）\n"
        "输出频道：{output_channel_id}\n"
        "本服务器队列中等待的视频上限：{queue_cap}\n"
        "每位成员同时制作的视频上限：{active_per_member}\n"
        "每位成员每天的视频秒数（UTC）：{seconds_per_day}\n"
        "每月预算（美元，按 UTC 自然月）：{monthly_budget_usd}\n"
        "默认风格：{default_style}\n"
        "默认构图：{default_framing}\n"
        "允许通过私信接收结果：{dm_delivery}\n"
        "运营者提醒：{alert_channel_id}\n"
        "每个视频制作前须由成员确认：{confirm_before_spending}"
    ),
    "settings_saved": "已保存：{names}。",
    "settings_reset": "已恢复为机器人的默认值：{names}。",
    "settings_history_line": "<t:{at}:f> {member}：`{setting}` {old} → {new}",
    "settings_history_default": "（默认值）",
    "settings_history_empty": "本服务器的设置从未被更改过。",
    "value_no_limit": "无限制",
    "value_command_channel": "使用命令的频道",
    "value_log_only": "仅记录在机器人日志中",
    "value_yes": "是",
    "value_no": "否",
    "quota_daily_seconds": (
        "这段录音将生成 {needed} 秒的视频，但您今天只剩 {left} 秒：本服务器的成员每天最多可"
        "制作 {limit} 秒视频，您已制作 {used} 秒。您的额度将于 <t:{resets_at}:F>"
        "（<t:{resets_at}:R>）重置。未产生任何费用。"
    ),
    "quota_daily_used_up": (
        "您今天已制作 {used} 秒视频，用完了本服务器每位成员每天 {limit} 秒的额度。额度将于 "
        "<t:{resets_at}:F>（<t:{resets_at}:R>）重置。"
    ),
    "quota_budget_used_up": (
        "本服务器已用完本月预算：已使用 ${spent} / ${budget}。预算将于 <t:{resets_at}:F>"
        "（<t:{resets_at}:R>）重置；服务器管理员可以用 `/emo-admin set` 提高预算。"
    ),
    "quota_budget_used_up_at_ceiling": (
        "本服务器已用完本月预算：已使用 ${spent} / ${budget}，这是机器人运营者允许单个服务器"
        "使用的上限。预算将于 <t:{resets_at}:F>（<t:{resets_at}:R>）重置。"
    ),
    "quota_monthly_budget_at_ceiling": (
        "这个视频预计花费约 ${estimate}，但本服务器每月 ${budget} 的预算（机器人运营者允许的"
        "上限）只剩 ${left}（本月已使用 ${spent}）。更短的录音也许可以；预算将于 "
        "<t:{resets_at}:F>（<t:{resets_at}:R>）重置。"
    ),
    "total_budget_used_up": (
        "机器人面向所有服务器的每月预算已用完，{resets_on} 之前无法制作新视频。这是机器人运营者"
        "设定的上限，每月 1 日（UTC）重新开始。未产生任何费用。"
    ),
    "total_budget_too_little_left": (
        "这个视频预计花费约 ${estimate}，超过了机器人面向所有服务器的每月预算的剩余额度。更短的"
        "录音也许还可以；预算将于 {resets_on} 重新开始。未产生任何费用。"
    ),
    "quota_monthly_budget": (
        "这个视频预计花费约 ${estimate}，但本服务器每月 ${budget} 的预算只剩 ${left}（本月"
        "已使用 ${spent}）。预算将于 <t:{resets_at}:F>（<t:{resets_at}:R>）重置；服务器"
        "管理员可以用 `/emo-admin set` 提高预算。未产生任何费用。"
    ),
    "usage_member": (
        "**{member} 在本服务器的使用情况**\n"
        "今天（UTC）：{today_jobs} 个视频，共 {today_seconds} 秒，${today_cost}\n"
        "本月（UTC）：{month_jobs} 个视频，共 {month_seconds} 秒，${month_cost}\n"
        "每日额度：{allowance}\n"
        "仍在制作中的视频费用为预估值。"
    ),
    "usage_allowance": "剩余 {left} 秒 / {limit} 秒，<t:{resets_at}:R>重置",
    "usage_server": (
        "**本服务器本月（UTC）**：{jobs} 个视频，共 {seconds} 秒，${cost}。预算：{budget}。\n"
        "**本月按成员**\n{members}\n"
        "**按月**\n{months}\n"
        "仍在制作中的视频费用为预估值。"
    ),
    "usage_budget": "已使用 ${spent} / ${budget}，<t:{resets_at}:R>重置",
    "usage_line": "{who}：{jobs} 个视频，{seconds} 秒，${cost}",
    "usage_none": "暂无",
    "usage_more": "…还有 {count} 项",
    "audit_header": "**本服务器的任务**：共 {total} 个，第 {page} / {pages} 页，最新的在前",
    "audit_line": (
        "#{job} <t:{created}:f> {member}{requested_by} 于 {channel}：{state}，{seconds} 秒，"
        "{cost}；图片 `{image}`，音频 `{audio}`{deleted}"
    ),
    "audit_requested_by": "（由 {member} 请求）",
    "audit_media_deleted": "（媒体已删除）",
    "audit_estimate": "约 ${cost}",
    "audit_not_billed": "未计费",
    "audit_empty": "没有符合条件的任务。",
    "audit_next_page": "更早的任务：`page:{next}`。",
    "audit_bad_date": "{value} 不是日期：请按 YYYY-MM-DD 格式填写，例如 2025-01-31。",
    "audit_bad_range": "起始日期 {since} 晚于结束日期 {until}。",
    "audit_bad_state": "{value} 不是任务状态。",
    "forget_done": (
        "已在所有服务器中删除您 {jobs} 个已完成视频的 {files} 个存储文件（{megabytes} MB），"
        "并从任务记录中移除了指向它们的链接。记录本身（时间、地点、费用和文件指纹）会保留，"
        "供服务器审计使用。提供给视频服务用于生成的副本会在那里自动过期。"
    ),
    "forget_pending": (
        "您有 {count} 个视频仍在制作中：它们会照常送达，完成后文件会立即删除。如果不再需要，"
        "请先取消。"
    ),
    "forget_nothing": "我没有保存您的任何文件：没有需要删除的内容。",
    # a server's own DashScope key
    "provider_key_no_secret": (
        "此机器人无法保存服务器自己的 DashScope 密钥：运营者尚未设置用于加密已存密钥的 "
        "EMO_SECRET_KEY。未保存任何内容，本服务器的视频继续使用机器人的账户制作。"
    ),
    "provider_key_empty": "没有输入密钥。请在表单中粘贴您的 DashScope API 密钥后重新提交。",
    "provider_key_malformed": (
        "这不是 DashScope API 密钥：密钥是由字母、数字和标点组成的一个词，不含空格、换行或其他字符"
        "。未保存任何内容。"
    ),
    "provider_key_length": (
        "这不是 DashScope API 密钥：密钥长度为 {minimum} 到 {maximum} 个字符，而输入的有 {length} "
        "个。未保存任何内容。"
    ),
    "provider_key_operators": (
        "该密钥已经是机器人自己的密钥：用它制作的视频由机器人的运营者付费。请提供您自己的阿里云账户"
        "的密钥。未保存任何内容。"
    ),
    "provider_key_operators_account": (
        "该密钥属于机器人运营者已在使用的阿里云账户：用它制作的视频将由运营者付费，而且该账户一次只能"
        "为所有人制作一个视频。请提供您自己账户的密钥。未保存任何内容。"
    ),
    "provider_key_other_servers_account": (
        "该密钥属于使用此机器人的另一个服务器已在使用的阿里云账户：一个账户一次只能制作一个视频，"
        "因此只能服务一个服务器。请提供另一个账户的密钥。未保存任何内容。"
    ),
    "provider_key_other_server": (
        "该密钥已被使用此机器人的另一个服务器作为自己的密钥，一个密钥只能属于一个服务器。未保存任何"
        "内容。"
    ),
    "provider_key_refused": (
        "DashScope 拒绝了此密钥：{code} — {reason} 请在 DashScope 控制台检查密钥后重试。未保存任何"
        "内容。"
    ),
    "provider_key_unchecked": (
        "现在无法通过 DashScope 检查该密钥（未及时响应）。未保存任何内容：请几分钟后重试。"
    ),
    "provider_key_saved": (
        "已保存：本服务器的视频今后使用其自己的 DashScope 账户 {account} 制作，并由该账户付费。密钥"
        "已加密保存，不会再次显示；使用 `/emo-admin provider-key clear` 可停止使用它。"
    ),
    "provider_key_cleared": (
        "已停止使用本服务器自己的密钥：新视频重新使用机器人的账户制作。正在制作的视频仍在您的账户上"
        "完成。"
    ),
    "provider_key_nothing_to_clear": "本服务器没有自己的密钥：其视频已经使用机器人的账户制作。",
    "provider_key_status_none": (
        "本服务器没有自己的 DashScope 密钥：其视频使用机器人的账户制作。管理员可以使用 `/emo-admin "
        "provider-key set` 设置密钥。"
    ),
    "provider_key_status_set": (
        "本服务器的视频使用其自己的 DashScope 账户 {account} 制作，并由该账户付费。密钥由 {member} "
        "于 {when} 设置。"
    ),
    "provider_key_status_unreadable": (
        "但机器人无法读取已保存的密钥（运营者的 EMO_SECRET_KEY 未设置或已更改），因此本服务器的视频"
        "暂时使用机器人的账户制作。请使用 `/emo-admin provider-key set` 重新设置密钥。"
    ),
    "provider_key_status_paused": (
        "已暂停：DashScope 拒绝了此账户（{code}），本服务器的视频正在等待。请在 DashScope 控制台修"
        "复账户，或使用 `/emo-admin provider-key set` 设置另一个密钥。"
    ),
    "provider_key_modal_title": "本服务器的 DashScope 密钥",
    "provider_key_label": "DashScope API 密钥",
    "provider_key_hint": "先通过 DashScope 检查，再加密保存。不会再次显示。",
}

COMMANDS: dict[str, str] = {
    # /emo
    "Talking portraits": "会说话的肖像",
    "Turn a portrait and a voice recording into a talking video": (
        "用一张肖像照片和一段语音录音生成会说话的视频"
    ),
    "A photo of one person, face clearly visible": "一张单人照片，脸部清晰可见",
    "A voice message or audio file of up to 60 seconds": "不超过 60 秒的语音消息或音频文件",
    "How lively the motion is": "动作的活跃程度",
    "Head shot (square) or half body (portrait)": "头部特写（方形）或半身（竖版）",
    "Use the first 60 seconds of a longer recording instead of refusing it": (
        "录音过长时截取前 60 秒，而不是拒绝"
    ),
    "Send me the video by direct message": "通过私信接收视频",
    "Show me the crop and the cost first; nothing is made until I press Confirm": (
        "先显示将要动起来的区域和费用，点击“确认”后才开始制作"
    ),
    "normal": "标准",
    "calm": "平静",
    "active": "活泼",
    "head 1:1": "头部 1:1",
    "half body 3:4": "半身 3:4",
    "Cancel your latest video, or a given job": "取消您最新的视频或指定的任务",
    "The job number (default: your latest job on its way)": (
        "任务编号（默认：您正在进行中的最新任务）"
    ),
    "Where your videos are in the queue": "查看您的视频在队列中的位置",
    "Your latest videos and their states": "查看您最近的视频及其状态",
    "How to make a talking portrait": "如何制作会说话的肖像",
    "Animate this voice message": ANIMATE_VOICE_MESSAGE,
    # /emo usage, /emo forget
    "Your videos and their cost (Manage Server: everyone's)": (
        "您的视频及其费用（拥有“管理服务器”权限可查看所有人的）"
    ),
    "Whose use to show (another member's needs Manage Server)": (
        "要查看谁的使用情况（查看其他成员需要“管理服务器”权限）"
    ),
    "Delete the photos, recordings and videos the bot keeps of you": (
        "删除机器人保存的您的照片、录音和视频"
    ),
    # /emo-admin
    "This server's video settings, costs and audit (Manage Server)": (
        "本服务器的视频设置、费用和审计（管理服务器）"
    ),
    "Show this server's settings": "查看本服务器的设置",
    "Change this server's settings": "更改本服务器的设置",
    "Where finished videos are posted (default: where the command was used)": (
        "完成的视频发布到哪里（默认：使用命令的频道）"
    ),
    "How many videos this server may have waiting": "本服务器最多可排队等待的视频数",
    "How many videos one member may have on their way": "每位成员最多可同时制作的视频数",
    "Seconds of video one member may make per day (UTC)": "每位成员每天可制作的视频秒数（UTC）",
    "What this server may spend per calendar month (UTC), in USD": (
        "本服务器每个自然月（UTC）可花费的金额（美元）"
    ),
    "Motion style when a member does not choose one": "成员未选择时使用的动作风格",
    "Framing when a member does not choose one": "成员未选择时使用的构图",
    "Whether members may have their videos sent by direct message": "是否允许成员通过私信接收视频",
    "Where operator alerts about this server's jobs go": "本服务器任务的运营者提醒发送到哪里",
    "Whether members must confirm each video (crop and cost shown) before it is made": (
        "成员是否须在每个视频制作前（查看区域和费用后）确认"
    ),
    "Give a setting back to the bot's default": "将设置恢复为机器人的默认值",
    "The setting to reset, or all of them": "要恢复的设置，或全部设置",
    "output_channel": "output_channel（输出频道）",
    "queue_cap": "queue_cap（队列上限）",
    "active_per_member": "active_per_member（每位成员同时制作数）",
    "seconds_per_day": "seconds_per_day（每日秒数）",
    "monthly_budget_usd": "monthly_budget_usd（每月预算）",
    "default_style": "default_style（默认风格）",
    "default_framing": "default_framing（默认构图）",
    "dm_delivery": "dm_delivery（私信接收）",
    "alert_channel": "alert_channel（运营者提醒）",
    "confirm_before_spending": "confirm_before_spending（制作前确认）",
    "all": "全部",
    "Who changed this server's settings": "查看本服务器设置的更改记录",
    "List this server's jobs: who, where, when": "列出本服务器的任务：谁、在哪里、何时",
    "Only this member's jobs": "仅此成员的任务",
    "Only jobs in this state": "仅此状态的任务",
    "received": "已接收",
    "preparing": "准备中",
    "awaiting_confirmation": "等待确认",
    "queued": "排队中",
    "submitting": "提交中",
    "submitted": "已提交",
    "succeeded": "已生成",
    "delivering": "发布中",
    "delivered": "已发布",
    "rejected": "已拒绝",
    "failed": "失败",
    "canceled": "已取消",
    "expired": "已过期",
    "First day, as YYYY-MM-DD (UTC)": "起始日期，格式 YYYY-MM-DD（UTC）",
    "Last day, as YYYY-MM-DD (UTC)": "结束日期，格式 YYYY-MM-DD（UTC）",
    "Which page (newest jobs first)": "页码（最新的任务在前）",
    # /emo-admin provider-key
    "This server's own DashScope key (Manage Server)": (
        "本服务器自己的 DashScope 密钥（管理服务器）"
    ),
    "Give this server its own DashScope key (asked in a private form)": (
        "为本服务器设置自己的 DashScope 密钥（在私密表单中输入）"
    ),
    "Stop using this server's own DashScope key": "停止使用本服务器自己的 DashScope 密钥",
    "Whether this server's videos run on its own DashScope key": (
        "显示本服务器的视频是否使用其自己的 DashScope 密钥制作"
    ),
    # /emo-operator
    "Bot owner": "机器人所有者专用",
    "Every provider account: slots, queue, pause and spend": (
        "各视频服务账户：槽位、队列、暂停、花费"
    ),
    "Resume submissions after fixing the provider account": "修复视频服务账户后恢复提交",
}
