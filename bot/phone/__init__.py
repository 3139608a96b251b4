"""Phone follow-up (电话回访): keypad surveys by Aliyun voice and the staff call list.

- :mod:`bot.phone.reach` — who is called rather than written to, when calls may be made, and
  what follows an unanswered attempt (another text, a call, the staff call list, lost);
- :mod:`bot.phone.keypad` — a key pressed in a call as an answer for the survey engine
  (1-5 a score, 0 a person should call back, 9 no more follow-up);
- :mod:`bot.phone.receipts` — Aliyun's call receipts (VoiceCallReport, VoiceReport);
- :mod:`bot.phone.calllist` — the staff call list: claim (the number revealed, audited),
  outcomes, answers entered in the survey form, rescheduling;
- :mod:`bot.phone.coverage` — 应随访, 已随访, 接通率, 完成率 and 失访 by department and channel.

The channel adapter itself is :mod:`bot.channels.voice_aliyun`. Channel names: ``voice`` (the
keypad survey call) and ``phone`` (a member of staff on the phone).
"""
