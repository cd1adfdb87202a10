"""Japanese (ja): the member-facing texts and the slash commands' descriptions.

Keys of ``MESSAGES`` are ``bot.messages.MessageKey`` values; every text keeps the English
text's ``{placeholders}``. Typed command and option names (``/emo animate``, ``style``…) stay
in English, as Discord shows them in every language.
"""

from __future__ import annotations

# The context menu's name, also the title of the form it opens.
ANIMATE_VOICE_MESSAGE = "このボイスメッセージで動画を作成"

MESSAGES: dict[str, str] = {
    "checking": "写真と録音を確認しています…",
    "queued": (
        "動画を順番待ちに追加しました（ジョブ #{job}、前に {ahead} 件）。進み具合は"
        "ステータスカードで確認できます: {link}"
    ),
    "result": "{mention} しゃべるポートレートができました（{seconds} 秒、ジョブ #{job}）。",
    "result_shrunk": (
        "{mention} しゃべるポートレートができました（{seconds} 秒、ジョブ #{job}）。この"
        "チャンネルのアップロード上限 {limit_mb} MB に収まるよう再エンコードしています。"
    ),
    "result_too_large": (
        "{mention} 動画（ジョブ #{job}）は {size_mb} MB で、このチャンネルのアップロード上限 "
        "{limit_mb} MB を超えており、うまく縮小できませんでした。24 時間以内にこちらから"
        "ダウンロードしてください: {url}"
    ),
    "image_unreadable": (
        "画像を読み込めませんでした。ファイルが壊れているか、画像ではありません。JPEG、PNG、"
        "WebP、HEIC、AVIF のいずれかの写真をアップロードしてください。"
    ),
    "image_format": (
        "{format} 形式の画像は使えません。JPEG、PNG、WebP、HEIC、AVIF、GIF、BMP の"
        "いずれかの写真をアップロードしてください。"
    ),
    "image_too_small": (
        "画像は {width}×{height} px です。短い辺が {minimum} px 以上必要です。もっと大きな"
        "写真をアップロードしてください。"
    ),
    "image_too_large_pixels": (
        "画像は {megapixels} メガピクセルで、上限は {limit} メガピクセルです。もっと小さな"
        "写真をアップロードしてください。"
    ),
    "image_aspect": (
        "画像は {width}×{height} px で、細長すぎるため短い辺を {minimum} px に保てません。"
        "人物の周りでトリミングしてください。"
    ),
    "audio_unreadable": (
        "録音を読み込めませんでした。ファイルが壊れているか、音声トラックがないか、未対応の"
        "コーデックです。ボイスメッセージ、または MP3、WAV、M4A、OGG、FLAC ファイルを"
        "アップロードしてください。"
    ),
    "audio_too_long": (
        "録音の長さは {seconds} 秒で、上限は {limit} 秒です。もっと短い録音をアップロード"
        "してください。"
    ),
    "audio_too_short": (
        "録音が短すぎます（{seconds} 秒）。{minimum} 秒以上の音声をアップロードしてください。"
    ),
    "audio_silent": (
        "録音が無音のようです。マイクに近づいて録音し直し、正しいファイルを添付しているか"
        "確認してください。"
    ),
    "audio_longer_than": (
        "録音が上限の {limit} 秒より長いです。もっと短い録音をアップロードしてください。"
    ),
    "audio_too_many_streams": (
        "ファイルに {limit} 個を超えるトラックが入っています。音声トラックが 1 つの録音を"
        "使います。ボイスメッセージか音声ファイルそのものをアップロードしてください。"
    ),
    "audio_sample_rate": (
        "録音のサンプリングレートは {rate} Hz です。使えるのは {minimum}〜{maximum} Hz です。"
        "ボイスメッセージ、または通常の MP3、WAV、M4A、OGG、FLAC ファイルをアップロード"
        "してください。"
    ),
    "media_too_costly": (
        "{what}の変換に時間かメモリがかかりすぎました。ファイルが壊れているか、特殊な作りの"
        "可能性があります。通常のファイル（写真は JPEG、録音は MP3 か M4A）として保存し直して"
        "アップロードしてください。"
    ),
    "file_too_large": (
        "{what}ファイルが {limit_mb} MB を超えています。もっと小さなファイルを"
        "アップロードしてください。"
    ),
    "attachment_unavailable": (
        "Discord から{what}ファイルをダウンロードできませんでした。ファイルを添付して、"
        "もう一度コマンドを実行してください。"
    ),
    "no_face": (
        "写真の中に人物が見つかりませんでした。1 人が正面を向いた、はっきりした写真を"
        "使ってください。"
    ),
    "several_faces": "写真に 2 人以上が写っています。1 人だけが写った写真を使ってください。",
    "face_framing": (
        "人物の写り方が大きすぎるか小さすぎる、または顔が横を向いているか隠れています。頭と"
        "肩がすべて写った正面向きの写真を使ってください。"
    ),
    "needs_half_body": (
        "「上半身」の構図では、腰まで写っている必要があります。別の写真を使うか、"
        "「顔アップ」の構図を選んでください。"
    ),
    "image_refused": (
        "動画サービスがこの写真を受け付けませんでした（{reason}）。1 人が正面を向いた、"
        "明るい写真でもう一度お試しください。"
    ),
    "content_refused": (
        "動画サービスのコンテンツフィルターにより、これらのファイルは受け付けられません"
        "でした。別の写真または録音でお試しください。"
    ),
    "provider_busy": (
        "動画サービスで現在問題が発生しています（ジョブ #{job}）。料金は発生していません。"
        "数分後にもう一度お試しください。"
    ),
    "own_key_unavailable": (
        "このサーバー独自の DashScope キーが拒否されました（ジョブ #{job}）。料金は発生して"
        "いません。サーバー管理者は `/emo-admin provider-key status`（設定されていれば"
        "サーバーの通知チャンネルでも）で理由を確認できます。修正後にもう一度お試しください。"
    ),
    "provider_unavailable": (
        "ボットの動画サービスのアカウントに、ボット運営者の対応が必要です（ジョブ #{job}）。"
        "料金は発生していません。サーバー管理者に伝えて、しばらくしてからもう一度お試し"
        "ください。"
    ),
    "render_failed": (
        "{mention} 動画サービスでジョブ #{job} を作成できませんでした（{reason}）。もう一度"
        "試すか、別の写真や録音を使ってください。"
    ),
    "result_source_refused": (
        "{mention} ジョブ #{job} は動画サービスで完成しましたが、ボットがダウンロードしない"
        "アドレスから送られてきたため、取得しませんでした。サーバー管理者に伝えてください"
        "（ボットのログにアドレスが記録されています）。"
    ),
    "result_over_cap": (
        "{mention} ジョブ #{job} の動画は、ボットがダウンロードできる上限の {limit_mb} MB を"
        "超えているため、取得しませんでした。もっと短い録音でお試しください。"
    ),
    "result_not_stored": (
        "{mention} ジョブ #{job} の動画をボットのサーバーに保存できませんでした（ディスクが"
        "いっぱいの可能性があります）。サーバー管理者に伝えてから、もう一度コマンドを実行"
        "してください。"
    ),
    "result_unreachable": (
        "{mention} ジョブ #{job} の動画を動画サービスからダウンロードできませんでした。"
        "何度か試しましたが応答がありません。しばらくしてからもう一度コマンドを実行して"
        "ください。"
    ),
    "result_not_video": (
        "{mention} ジョブ #{job} について動画サービスから届いたものは再生できる動画ではな"
        "かったため、何も投稿しませんでした。もう一度コマンドを実行してください。"
    ),
    "result_expired": (
        "{mention} ジョブ #{job} の結果は、投稿される前に動画サービス側で期限切れになりました。"
        "もう一度コマンドを実行してください。"
    ),
    "submit_uncertain": (
        "{mention} ジョブ #{job} を動画サービスに送信している途中でボットが再起動しました。"
        "料金が二重に発生しないよう、再送信はしていません。動画が届かない場合は、もう一度"
        "コマンドを実行してください。"
    ),
    "delivery_failed": (
        "{mention} ジョブ #{job} は完了しましたが、ここに投稿できませんでした。このチャンネルで"
        "ボットがメッセージを送信し、ファイルを添付できるか確認してください。"
    ),
    "member_busy": (
        "すでに {count} 本の動画を作成中です（上限は {limit} 本）。どれかが届いてから、"
        "もう一度お試しください。"
    ),
    "server_queue_full": (
        "このサーバーの順番待ちがいっぱいです。{count} 本の動画が待機中です（上限は {limit} "
        "本）。いくつか届いてから、もう一度お試しください。"
    ),
    "render_stuck": (
        "{mention} ジョブ #{job} は動画サービスで {hours} 時間以上待機したため、キャンセル"
        "しました。料金は発生していません。もう一度コマンドを実行してください。"
    ),
    "provider_paused": (
        "ボットの動画サービスのアカウントに運営者の対応が必要なため、新しい動画は順番待ちに"
        "なっています。あなたの動画（ジョブ #{job}）は順番を保ったまま、運営者の対応後に"
        "開始されます。"
    ),
    "restarting": (
        "ボットは現在再起動中です。1 分ほどしてからもう一度お試しください。順番待ちのものは"
        "順番が保たれます。"
    ),
    "owner_only": "これはボットのオーナーだけが実行できます。",
    "provider_resumed": "送信を再開しました。",
    "provider_not_paused": "送信は停止していませんでした。",
    "accounts_header": (
        "動画サービスのアカウント: {count} 件。利用額は今月（UTC の暦月）の請求分です。"
    ),
    "accounts_line_active": (
        "**{account}**: 稼働中、使用中のスロット {busy}/{slots}、キューの待ち {waiting} 件、"
        "今月の利用額 ${spent}"
    ),
    "accounts_line_paused": (
        "**{account}**: {since} から停止中（{code}）、使用中のスロット {busy}/{slots}、"
        "キューの待ち {waiting} 件、今月の利用額 ${spent}"
    ),
    "accounts_more": "…ほか {count} 件のアカウント。",
    "alert_provider_refused": (
        "DashScope がボットのアカウントを拒否しました（{code}: {message}）。すべてのサーバーで"
        "送信を一時停止し、ジョブは順番を保ったまま待機します。アカウント（キー、リージョン、"
        "残高、利用権限）を確認してください。ボットが定期的に確認し、自動で再開します。"
    ),
    "alert_account_refused": (
        "DashScope がボットのアカウント **{account}** を拒否しました（{code}: {message}）。"
        "このアカウントを一時停止し、待機中のジョブは他のアカウントで処理します。アカウント"
        "（キー、残高、利用権限）を確認してください。ボットが定期的に確認し、自動で再開します。"
    ),
    "alert_own_key_refused": (
        "DashScope がこのサーバー独自の API キーを拒否しました（{code}: {message}）。この"
        "サーバーのジョブは順番を保ったまま一時停止しています。他のサーバーには影響しません。"
        "アカウント（キー、残高、利用権限）を確認するか、`/emo-admin provider-key set` で別の"
        "キーを設定してください。ボットがキーを定期的に確認し、自動で再開します。"
    ),
    "alert_render_slow": (
        "ジョブ {job}（タスク {task}）は {hours} 時間以上レンダリング中です。プロバイダーは "
        "3 時間で停止します。"
    ),
    "word_image": "画像",
    "word_audio": "音声",
    "dm_not_allowed": (
        "このサーバーでは結果をダイレクトメッセージで送れません。dm オプションを付けずに、"
        "もう一度コマンドを実行してください。"
    ),
    "guild_only": "このコマンドはサーバーのチャンネルで使ってください。",
    "unexpected": (
        "こちら側で問題が発生しました（参照番号 {reference}）。もう一度お試しください。"
        "繰り返し発生する場合は、サーバー管理者に伝えてください。"
    ),
    "database_away": (
        "ボットがデータベースに一時的に接続できません。1分ほどしてからもう一度お試しください。"
        "料金は発生していません。"
    ),
    "job_delayed": (
        "ジョブ #{job} は受け付けましたが、ボットのデータベースに一時的に接続できません。"
        "接続が戻ればジョブは自動的に続行し、ステータスカードに表示されます。"
    ),
    # the status card
    "card_title": "🎬 **{mention} さんのしゃべるポートレート** · ジョブ #{job}",
    "card_checking": "⏳ 写真と録音を確認しています…",
    "card_waiting_preparer": (
        "⏳ 確認の順番を待っています。ボットは一度に数人分のファイルを確認します。"
        "待っている間に料金はかかりません。"
    ),
    "card_queued": "🕒 順番待ち: 前に {ahead} 件 · 完成予定 {eta}",
    "card_paused_own_key": (
        "⏸️ 待機中: このサーバー独自の DashScope キーが拒否されました。サーバー管理者は "
        "`/emo-admin provider-key status` で理由を確認できます。このジョブの順番は保たれます。"
    ),
    "card_paused": (
        "⏸️ 待機中: 動画サービスにボット運営者の対応が必要です。このジョブの順番は保たれます。"
    ),
    "card_waiting_at_provider": "🕒 動画サービスで待機中 · 完成予定 {eta}",
    "card_rendering": "🎞️ 生成中（{since}に開始） · 完成予定 {eta}",
    "card_suspended": "⏸️ 動画サービス側で一時停止中です。自動で再開します · 完成予定 {eta}",
    "card_delivering": "📤 動画を投稿しています…",
    "card_done": "✅ 完了: {link}",
    "card_sent_by_dm": "ダイレクトメッセージで送信しました",
    "card_canceled": "🚫 キャンセルしました。料金は発生していません。",
    "card_failed": "❌ 今回は動画を作成できませんでした。",
    "card_estimate": "見積もり料金: ${usd}",
    "card_cost": "料金: ${usd}（動画 {seconds} 秒分）",
    "card_retry_hint": "🔁 でリアクションするか「再試行」を押すと、もう一度作成できます。",
    "card_retry_of": "ジョブ #{original} の再試行",
    "card_stop_requested": (
        "キャンセルが要求されましたが、生成はすでに始まっていました。料金が発生し、動画は"
        "投稿されます。"
    ),
    "button_cancel": "キャンセル",
    "button_retry": "再試行",
    "button_use_avatar": "アバターを使う",
    # cancel and retry
    "canceled": "ジョブ #{job} は開始前にキャンセルされました。料金は発生していません。",
    "cancel_removed": "ジョブ #{job} をキャンセルしました。料金は発生していません。",
    "cancel_at_provider": (
        "ジョブ #{job} をキャンセルしました。動画サービスでまだ待機中だったため、料金は"
        "発生していません。"
    ),
    "cancel_running": (
        "ジョブ #{job} はすでに生成中のため、停止できません。料金が発生し、完成したらここに"
        "投稿されます。"
    ),
    "cancel_finished": "ジョブ #{job} はすでに完了しています。キャンセルするものはありません。",
    "cancel_forbidden": (
        "ジョブ #{job} をキャンセルできるのは、開始したメンバーか「サーバー管理」権限を持つ"
        "メンバーだけです。"
    ),
    "job_not_found": (
        "このサーバーにジョブ #{job} はありません。自分のジョブは /emo jobs で確認できます。"
    ),
    "nothing_to_cancel": "作成中の動画はありません。キャンセルするものはありません。",
    "retry_pending": "ジョブ #{job} の再試行はすでに進行中です。届くまでお待ちください。",
    "retry_not_finished": "ジョブ #{job} はまだ進行中です。完了してから再試行してください。",
    "retry_inputs_gone": (
        "ジョブ #{job} の写真と録音はもう保存されていません（保存したファイルは一定期間後に"
        "削除されます）。ファイルを添付して、もう一度 /emo animate を実行してください。"
    ),
    "retry_started": "ジョブ #{job} をジョブ #{new} として作り直しています。",
    # the crop on the card, confirm before spending, framing help
    "state_awaiting": "確認待ち",
    "card_awaiting": (
        "👀 下の画像を確認してください。この範囲がそのまま動きます。動画を作成するには"
        "**確定**を、やめるには**キャンセル**を押してください。確定するまで料金は発生しません。"
        "確定されない場合は {deadline} にキャンセルされます。"
    ),
    "card_details": "🖼️ {framing} · 動き: {style} · {seconds} 秒",
    "card_reframe_hint": (
        "**顔アップ 1:1** を押すと、同じ写真と録音から顔を中心にした構図で作成します。"
        "アップロードし直す必要はありません。"
    ),
    "framing_head": "顔アップ 1:1",
    "framing_half_body": "上半身 3:4",
    "style_normal": "標準",
    "style_calm": "穏やか",
    "style_active": "活発",
    "button_confirm": "確定",
    "button_reframe": "顔アップ 1:1",
    "awaiting_confirmation": (
        "写真と録音の準備ができました（ジョブ #{job}）。ステータスカードに、動かす範囲の画像と"
        "料金が表示されています。そこで「確定」を押すと動画を作成します。{link}"
    ),
    "confirmed": "確定しました。ジョブ #{job} は順番待ちに入りました（前に {ahead} 件）。",
    "confirm_already": "ジョブ #{job} はすでに確定されています。",
    "confirm_ended": "ジョブ #{job} は終了しています。確定するものはありません。",
    "confirm_forbidden": (
        "ジョブ #{job} を確定できるのは、開始したメンバーか「サーバー管理」権限を持つ"
        "メンバーだけです。"
    ),
    "confirm_timed_out": (
        "ジョブ #{job} は時間内に確定されなかったため、キャンセルされました。料金は発生して"
        "いません。作成するには、もう一度コマンドを実行してください。"
    ),
    "reframe_started": (
        "ジョブ #{job} を同じ写真と録音から顔アップ（1:1）で作り直しています: ジョブ #{new}。"
    ),
    "retry_forbidden": (
        "ジョブ #{job} を再試行できるのは、開始したメンバーか「サーバー管理」権限を持つ"
        "メンバーだけです。"
    ),
    # /emo queue, /emo jobs, /emo help
    "queue_server": (
        "このサーバー: 待機中 {waiting} 件、生成中 {rendering} 件。全サーバーでは、動画"
        "サービスが {total} 件を処理しています。"
    ),
    "queue_mine": "あなたのジョブ #{job}: {state}、前に {ahead} 件、完成予定 {eta}",
    "queue_not_mine": "作成中の動画はありません。/emo animate で作成を始められます。",
    "jobs_header": "最近のジョブ:",
    "jobs_line": "#{job} · {state} · {when} {link}",
    "jobs_none": "このサーバーでのジョブはまだありません。/emo animate で作成を始められます。",
    "help": (
        "**しゃべるポートレート**\n"
        "• /emo animate: 1 人が写った写真と、{seconds} 秒までの録音（ボイスメッセージも可）"
        "を添付します。オプション: style（動きの大きさ）、framing（顔アップまたは上半身）、"
        "trim（長い録音の最初の {seconds} 秒を使う）、dm（動画をダイレクトメッセージで"
        "受け取る）。\n"
        f"• 自分のボイスメッセージを右クリック → アプリ → {ANIMATE_VOICE_MESSAGE}。\n"
        "• 各ジョブには「キャンセル」ボタン付きのステータスカードがあります。待機中のジョブは"
        "無料で取り消せます。生成が始まると停止できず、料金が発生します。\n"
        "• 結果に 🔁 でリアクションする（または「再試行」を押す）と、同じファイルでもう一度"
        "作成します。\n"
        "• /emo queue で順番を、/emo jobs で最近のジョブを確認でき、/emo cancel で最新の"
        "ジョブを停止できます。"
    ),
    "state_checking": "確認中",
    "state_queued": "順番待ち",
    "state_rendering": "生成中",
    "state_delivering": "投稿中",
    "state_done": "完了",
    "state_refused": "拒否",
    "state_failed": "失敗",
    "state_canceled": "キャンセル済み",
    "state_expired": "期限切れ",
    # delivery by direct message, and its fallbacks
    "result_by_dm": (
        "{server} で作成したしゃべるポートレートです（{seconds} 秒、ジョブ #{job}）。"
    ),
    "result_dms_closed": (
        "{mention} ダイレクトメッセージを受け付けていないため、ここでお届けします。"
        "しゃべるポートレートです（{seconds} 秒、ジョブ #{job}）。"
    ),
    "result_channel_forbidden": (
        "<#{channel}> には投稿できないため、ここでお届けします。しゃべるポートレートです"
        "（{seconds} 秒、ジョブ #{job}）。そのチャンネルでボットがメッセージとファイルを"
        "送信できるよう、サーバー管理者に依頼してください。"
    ),
    # the "Animate this voice message" context menu
    "not_a_voice_message": (
        "このメッセージはボイスメッセージではありません。代わりに音声ファイルを添付して "
        "/emo animate を使ってください。"
    ),
    "voice_not_yours": "動画にできるのは自分のボイスメッセージだけです。",
    "portrait_modal_title": ANIMATE_VOICE_MESSAGE,
    "portrait_label": "ポートレート写真",
    "portrait_hint": "1 人の顔がはっきり写った写真。空欄にするとアバターを使います。",
    "use_avatar_confirm": (
        "写真が指定されていません。プロフィール画像をポートレートとして使いますか？1 人の顔が"
        "はっきり写っている必要があります。"
    ),
    # Server administration.
    "manage_server_required": "この操作は「サーバー管理」権限を持つメンバーだけが行えます。",
    "others_data_forbidden": (
        "確認できるのは自分の利用状況と動画だけです。「サーバー管理」権限を持つメンバーは"
        "全員分を確認できます。"
    ),
    "setting_out_of_range": (
        "`{setting}` は {minimum} から {maximum} の範囲で指定してください。{value} は使え"
        "ません。何も変更していません。"
    ),
    "setting_invalid": "{value} は `{setting}` の値として無効です。何も変更していません。",
    "setting_unknown": "`{setting}` という設定はありません。",
    "setting_above_ceiling": (
        "このサーバーでは `{setting}` は最大 {ceiling} です。これはボットの運営者が決めた上限"
        "で、サーバーは下げられますが上げられません。{value} は使えません。何も変更していま"
        "せん。"
    ),
    "value_ceiling": "{value}（運営者の上限: {ceiling}）",
    "value_clamped": "{value}（運営者の上限: このサーバー自身の値 {stored} はこれを超えています）",
    "settings_nothing_given": (
        "変更する設定を 1 つ以上指定してください。例: `/emo-admin set queue_cap:10`"
    ),
    "settings_view": (
        "**このサーバーの設定**（✱ はこのサーバーで設定した値、それ以外はボットの既定値）\n"
        "出力チャンネル: {output_channel_id}\n"
        "このサーバーで順番待ちできる動画の上限: {queue_cap}\n"
        "メンバーごとに同時に作成できる動画の上限: {active_per_member}\n"
        "メンバーごとの 1 日あたりの動画の秒数（UTC）: {seconds_per_day}\n"
        "月間予算（USD、UTC の暦月）: {monthly_budget_usd}\n"
        "既定のスタイル: {default_style}\n"
        "既定の構図: {default_framing}\n"
        "ダイレクトメッセージでの受け取りを許可: {dm_delivery}\n"
        "運営者への通知: {alert_channel_id}\n"
        "作成前にメンバーが動画ごとに確認する: {confirm_before_spending}"
    ),
    "settings_saved": "保存しました: {names}。",
    "settings_reset": "ボットの既定値に戻しました: {names}。",
    "settings_history_line": "<t:{at}:f> {member}: `{setting}` {old} → {new}",
    "settings_history_default": "（既定値）",
    "settings_history_empty": "このサーバーの設定はまだ一度も変更されていません。",
    "value_no_limit": "上限なし",
    "value_command_channel": "コマンドを使ったチャンネル",
    "value_log_only": "ボットのログのみ",
    "value_yes": "はい",
    "value_no": "いいえ",
    "quota_daily_seconds": (
        "この録音からは {needed} 秒の動画ができますが、今日の残りは {left} 秒です。この"
        "サーバーのメンバーは 1 日に {limit} 秒まで動画を作成でき、あなたはすでに {used} 秒"
        "作成しています。上限は <t:{resets_at}:F>（<t:{resets_at}:R>）にリセットされます。"
        "料金は発生していません。"
    ),
    "quota_daily_used_up": (
        "今日はすでに {used} 秒の動画を作成しており、このサーバーのメンバーごとの 1 日の上限 "
        "{limit} 秒をすべて使いました。上限は <t:{resets_at}:F>（<t:{resets_at}:R>）に"
        "リセットされます。"
    ),
    "quota_budget_used_up": (
        "このサーバーは今月の予算を使い切りました（${budget} 中 ${spent}）。予算は "
        "<t:{resets_at}:F>（<t:{resets_at}:R>）にリセットされます。サーバー管理者は "
        "`/emo-admin set` で予算を引き上げられます。"
    ),
    "quota_budget_used_up_at_ceiling": (
        "このサーバーは今月の予算を使い切りました（${budget} 中 ${spent}。ボット運営者が"
        "サーバーに認める上限です）。予算は <t:{resets_at}:F>（<t:{resets_at}:R>）に"
        "リセットされます。"
    ),
    "quota_monthly_budget_at_ceiling": (
        "この動画の料金は約 ${estimate} ですが、このサーバーの月間予算 ${budget}（ボット運営者"
        "がサーバーに認める上限）の残りは ${left} です（今月の使用額 ${spent}）。短い録音なら"
        "収まるかもしれません。予算は <t:{resets_at}:F>（<t:{resets_at}:R>）にリセット"
        "されます。"
    ),
    "total_budget_used_up": (
        "全サーバー共通のボットの月間予算を使い切ったため、{resets_on} まで新しい動画は作れ"
        "ません。これはボットの運営者が決めた上限で、毎月 1 日（UTC）にリセットされます。"
        "料金は発生していません。"
    ),
    "total_budget_too_little_left": (
        "この動画の料金は約 ${estimate} で、全サーバー共通のボットの月間予算の残りを超えて"
        "います。もっと短い録音なら作れるかもしれません。予算は {resets_on} にリセットされ"
        "ます。料金は発生していません。"
    ),
    "quota_monthly_budget": (
        "この動画の料金は約 ${estimate} ですが、このサーバーの月間予算 ${budget} の残りは "
        "${left} です（今月の使用額 ${spent}）。予算は <t:{resets_at}:F>"
        "（<t:{resets_at}:R>）にリセットされます。サーバー管理者は `/emo-admin set` で予算を"
        "引き上げられます。料金は発生していません。"
    ),
    "usage_member": (
        "**このサーバーでの {member} さんの利用状況**\n"
        "今日（UTC）: 動画 {today_jobs} 本、計 {today_seconds} 秒、${today_cost}\n"
        "今月（UTC）: 動画 {month_jobs} 本、計 {month_seconds} 秒、${month_cost}\n"
        "1 日の上限: {allowance}\n"
        "作成中の動画の料金は見積もりです。"
    ),
    "usage_allowance": "残り {left} 秒 / {limit} 秒、<t:{resets_at}:R>にリセット",
    "usage_server": (
        "**このサーバーの今月（UTC）**: 動画 {jobs} 本、計 {seconds} 秒、${cost}。"
        "予算: {budget}。\n"
        "**今月のメンバー別**\n{members}\n"
        "**月別**\n{months}\n"
        "作成中の動画の料金は見積もりです。"
    ),
    "usage_budget": "${spent} / ${budget} 使用、<t:{resets_at}:R>にリセット",
    "usage_line": "{who}: 動画 {jobs} 本、{seconds} 秒、${cost}",
    "usage_none": "まだありません",
    "usage_more": "…ほか {count} 件",
    "audit_header": "**このサーバーのジョブ**: {total} 件、{page} / {pages} ページ、新しい順",
    "audit_line": (
        "#{job} <t:{created}:f> {member}{requested_by}（{channel}）: {state}、{seconds} 秒、"
        "{cost}、画像 `{image}`、音声 `{audio}`{deleted}"
    ),
    "audit_requested_by": "（{member} さんの依頼）",
    "audit_media_deleted": "（メディア削除済み）",
    "audit_estimate": "約 ${cost}",
    "audit_not_billed": "請求なし",
    "audit_empty": "該当するジョブはありません。",
    "audit_next_page": "以前のジョブ: `page:{next}`",
    "audit_bad_date": (
        "{value} は日付ではありません。YYYY-MM-DD の形式で入力してください（例: 2025-01-31）。"
    ),
    "audit_bad_range": "開始日 {since} が終了日 {until} より後になっています。",
    "audit_bad_state": "{value} はジョブの状態ではありません。",
    "forget_done": (
        "すべてのサーバーで、完了した動画 {jobs} 本の保存ファイル {files} 件（{megabytes} MB）"
        "を削除し、ジョブ記録からそれらへのリンクを取り除きました。記録そのもの（日時、場所、"
        "料金、ファイルのフィンガープリント）は、サーバーの監査のために残ります。生成のために"
        "動画サービスへ渡したコピーは、サービス側で自動的に期限切れになります。"
    ),
    "forget_pending": (
        "{count} 本の動画がまだ作成中です。通常どおりお届けし、完了次第ファイルを削除します。"
        "不要な場合は先にキャンセルしてください。"
    ),
    "forget_nothing": "あなたのファイルは保存されていません。削除するものはありませんでした。",
    # a server's own DashScope key
    "provider_key_no_secret": (
        "このボットはサーバー独自の DashScope キーを保存できません。運営者が、保存するキーを暗号化"
        "するための EMO_SECRET_KEY を設定していないためです。何も保存されていません。このサーバーの"
        "動画は引き続きボットのアカウントで作成されます。"
    ),
    "provider_key_empty": (
        "キーが入力されていません。フォームに DashScope の API キーを貼り付けて、もう一度送信してく"
        "ださい。"
    ),
    "provider_key_malformed": (
        "DashScope の API キーではありません。キーは英字・数字・記号だけの 1 語で、空白や改行などは"
        "含みません。何も保存されていません。"
    ),
    "provider_key_length": (
        "DashScope の API キーではありません。キーの長さは {minimum}〜{maximum} 文字ですが、入力さ"
        "れたものは {length} 文字です。何も保存されていません。"
    ),
    "provider_key_operators": (
        "そのキーはすでにボット自身のキーです。このキーで作成した動画はボットの運営者に請求されます"
        "。ご自身の Alibaba Cloud アカウントのキーを入力してください。何も保存されていません。"
    ),
    "provider_key_operators_account": (
        "そのキーは、ボットの運営者がすでに使っている Alibaba Cloud アカウントのキーです。"
        "このキーで作成した動画は運営者に請求され、そのアカウントは全員で 1 本ずつしか"
        "動画を作れません。ご自身のアカウントのキーを入力してください。何も保存されていません。"
    ),
    "provider_key_other_servers_account": (
        "そのキーは、このボットを使う別のサーバーがすでに使っている Alibaba Cloud アカウントの"
        "キーです。1 つのアカウントは一度に 1 本しか動画を作れないため、1 つのサーバーでしか"
        "使えません。別のアカウントのキーを入力してください。何も保存されていません。"
    ),
    "provider_key_other_server": (
        "そのキーは、このボットを使う別のサーバーの独自キーとしてすでに使われています。1 つのキーは"
        " 1 つのサーバーでしか使えません。何も保存されていません。"
    ),
    "provider_key_refused": (
        "DashScope がこのキーを拒否しました: {code} — {reason} DashScope のコンソールでキーを確認し"
        "て、もう一度お試しください。何も保存されていません。"
    ),
    "provider_key_unchecked": (
        "今は DashScope でキーを確認できませんでした（時間内に応答がありませんでした）。何も保存さ"
        "れていません。数分後にもう一度お試しください。"
    ),
    "provider_key_saved": (
        "保存しました。このサーバーの動画は今後、このサーバー独自の DashScope アカウント {account} "
        "で作成され、そのアカウントに請求されます。キーは暗号化して保存され、二度と表示されません。"
        "`/emo-admin provider-key clear` で使用をやめられます。"
    ),
    "provider_key_cleared": (
        "このサーバー独自のキーの使用をやめました。新しい動画は再びボットのアカウントで作成されます"
        "。作成中の動画は、あなたのアカウントで最後まで作成されます。"
    ),
    "provider_key_nothing_to_clear": (
        "このサーバーには独自のキーがありません。動画はすでにボットのアカウントで作成されています。"
    ),
    "provider_key_status_none": (
        "このサーバーには独自の DashScope キーがありません。動画はボットのアカウントで作成されます"
        "。管理者は `/emo-admin provider-key set` でキーを設定できます。"
    ),
    "provider_key_status_set": (
        "このサーバーの動画は、独自の DashScope アカウント {account} で作成され、そのアカウントに請"
        "求されます。キーは {member} さんが {when} に設定しました。"
    ),
    "provider_key_status_unreadable": (
        "ただし、保存されたキーをボットが読み取れません（運営者の EMO_SECRET_KEY が未設定か、変更さ"
        "れています）。そのため、このサーバーの動画は当面ボットのアカウントで作成されます。"
        "`/emo-admin provider-key set` でキーをもう一度設定してください。"
    ),
    "provider_key_status_paused": (
        "一時停止中: DashScope がこのアカウントを拒否しているため（{code}）、このサーバーの動画は待"
        "機しています。DashScope のコンソールでアカウントを直すか、`/emo-admin provider-key set` で"
        "別のキーを設定してください。"
    ),
    "provider_key_modal_title": "このサーバーの DashScope キー",
    "provider_key_label": "DashScope API キー",
    "provider_key_hint": "DashScope で確認してから暗号化して保存します。二度と表示されません。",
}

COMMANDS: dict[str, str] = {
    # /emo
    "Talking portraits": "しゃべるポートレート",
    "Turn a portrait and a voice recording into a talking video": (
        "ポートレート写真と録音から、しゃべる動画を作成します"
    ),
    "A photo of one person, face clearly visible": "1 人の顔がはっきり写った写真",
    "A voice message or audio file of up to 60 seconds": (
        "60 秒までのボイスメッセージまたは音声ファイル"
    ),
    "How lively the motion is": "動きの大きさ",
    "Head shot (square) or half body (portrait)": "顔アップ（正方形）または上半身（縦長）",
    "Use the first 60 seconds of a longer recording instead of refusing it": (
        "長い録音を断らずに、最初の 60 秒を使います"
    ),
    "Send me the video by direct message": "動画をダイレクトメッセージで受け取ります",
    "Show me the crop and the cost first; nothing is made until I press Confirm": (
        "先に動かす範囲と料金を表示し、「確定」を押すまで作成しません"
    ),
    "normal": "標準",
    "calm": "穏やか",
    "active": "活発",
    "head 1:1": "顔アップ 1:1",
    "half body 3:4": "上半身 3:4",
    "Cancel your latest video, or a given job": (
        "最新の動画、または指定したジョブをキャンセルします"
    ),
    "The job number (default: your latest job on its way)": (
        "ジョブ番号（既定: 作成中の最新のジョブ）"
    ),
    "Where your videos are in the queue": "動画の順番待ちの状況を表示します",
    "Your latest videos and their states": "最近の動画とその状態を表示します",
    "How to make a talking portrait": "しゃべるポートレートの作り方",
    "Animate this voice message": ANIMATE_VOICE_MESSAGE,
    # /emo usage, /emo forget
    "Your videos and their cost (Manage Server: everyone's)": (
        "自分の動画と料金（「サーバー管理」権限があれば全員分）"
    ),
    "Whose use to show (another member's needs Manage Server)": (
        "表示するメンバー（他のメンバーには「サーバー管理」権限が必要）"
    ),
    "Delete the photos, recordings and videos the bot keeps of you": (
        "ボットが保存しているあなたの写真・録音・動画を削除します"
    ),
    # /emo-admin
    "This server's video settings, costs and audit (Manage Server)": (
        "このサーバーの動画の設定・料金・監査（サーバー管理）"
    ),
    "Show this server's settings": "このサーバーの設定を表示します",
    "Change this server's settings": "このサーバーの設定を変更します",
    "Where finished videos are posted (default: where the command was used)": (
        "完成した動画の投稿先（既定: コマンドを使ったチャンネル）"
    ),
    "How many videos this server may have waiting": "このサーバーで順番待ちできる動画の数",
    "How many videos one member may have on their way": "1 人のメンバーが同時に作成できる動画の数",
    "Seconds of video one member may make per day (UTC)": (
        "1 人のメンバーが 1 日に作成できる動画の秒数（UTC）"
    ),
    "What this server may spend per calendar month (UTC), in USD": (
        "このサーバーが暦月（UTC）ごとに使える金額（USD）"
    ),
    "Motion style when a member does not choose one": "メンバーが選ばなかったときの動きのスタイル",
    "Framing when a member does not choose one": "メンバーが選ばなかったときの構図",
    "Whether members may have their videos sent by direct message": (
        "動画をダイレクトメッセージで受け取れるようにするか"
    ),
    "Where operator alerts about this server's jobs go": (
        "このサーバーのジョブに関する運営者向け通知の送信先"
    ),
    "Whether members must confirm each video (crop and cost shown) before it is made": (
        "メンバーが動画ごとに（動かす範囲と料金を見て）作成前に確定する必要があるか"
    ),
    "Give a setting back to the bot's default": "設定をボットの既定値に戻します",
    "The setting to reset, or all of them": "戻す設定、またはすべて",
    "output_channel": "output_channel（出力チャンネル）",
    "queue_cap": "queue_cap（順番待ちの上限）",
    "active_per_member": "active_per_member（メンバーごとの同時作成数）",
    "seconds_per_day": "seconds_per_day（1 日の秒数）",
    "monthly_budget_usd": "monthly_budget_usd（月間予算）",
    "default_style": "default_style（既定のスタイル）",
    "default_framing": "default_framing（既定の構図）",
    "dm_delivery": "dm_delivery（DM での受け取り）",
    "alert_channel": "alert_channel（運営者向け通知）",
    "confirm_before_spending": "confirm_before_spending（作成前の確認）",
    "all": "すべて",
    "Who changed this server's settings": "このサーバーの設定の変更履歴を表示します",
    "List this server's jobs: who, where, when": "このサーバーのジョブ一覧（誰が・どこで・いつ）",
    "Only this member's jobs": "このメンバーのジョブだけ",
    "Only jobs in this state": "この状態のジョブだけ",
    "received": "受付済み",
    "preparing": "準備中",
    "awaiting_confirmation": "確認待ち",
    "queued": "順番待ち",
    "submitting": "送信中",
    "submitted": "送信済み",
    "succeeded": "生成完了",
    "delivering": "投稿中",
    "delivered": "投稿済み",
    "rejected": "拒否",
    "failed": "失敗",
    "canceled": "キャンセル済み",
    "expired": "期限切れ",
    "First day, as YYYY-MM-DD (UTC)": "開始日（YYYY-MM-DD、UTC）",
    "Last day, as YYYY-MM-DD (UTC)": "終了日（YYYY-MM-DD、UTC）",
    "Which page (newest jobs first)": "ページ番号（新しいジョブから順に）",
    # /emo-admin provider-key
    "This server's own DashScope key (Manage Server)": (
        "このサーバー独自の DashScope キー（サーバー管理）"
    ),
    "Give this server its own DashScope key (asked in a private form)": (
        "このサーバー独自の DashScope キーを設定します（非公開のフォームで入力）"
    ),
    "Stop using this server's own DashScope key": (
        "このサーバー独自の DashScope キーの使用をやめます"
    ),
    "Whether this server's videos run on its own DashScope key": (
        "このサーバーの動画が独自の DashScope キーで作成されているかを表示します"
    ),
    # /emo-operator
    "Bot owner": "ボットの所有者向け",
    "Every provider account: slots, queue, pause and spend": (
        "動画サービスの各アカウント: スロット、キュー、停止、利用額"
    ),
    "Resume submissions after fixing the provider account": (
        "動画サービスのアカウントを直した後、送信を再開します"
    ),
}
