"""Word lists for the reply parser, and the tiny pattern syntax organisations may use.

Every entry is matched against the *normalised* reply (NFKC, lower case, simplified
characters; see ``surveys.understanding.normalize``), so write entries in simplified Chinese
and lower case.

Pattern syntax (plain substrings always work; these marks are optional):

* ``A*B`` -- ``A`` followed by ``B`` with at most 4 characters in between, none of them
  punctuation: ``态度*差`` matches 态度差, 态度太差, 态度非常差.
* ``^word$`` -- the whole reply (ignoring spaces, punctuation and emoji) must be ``word``:
  ``^t$`` opts out on a bare "T" without firing on every "t" inside English text.
* ``~entry`` -- complaint list only: a *mild* grievance (waiting, parking, crowding). It
  counts as a complaint unless the same reply gives a good score (4 or 5), because
  "满意是满意就是排队太久" is feedback, not a complaint that staff must answer within 24 h.

Two lists compose rather than match: a ``red_flag_change`` word (没知觉, 看不见, 发软, 发紫,
鼓得老高 ...) is a red flag when a ``red_flag_body`` word (脸, 嘴唇, 眼睛, 腿, 伤口, 我妈, 孩子 ...)
comes before it in the same clause ("半边脸没知觉了", "走路腿发软"), or a sudden-onset cue
(突然, 一下子 ...) does ("突然看不见了").  Add a body part or a change and every combination
counts; write whole phrases in ``red_flag`` only for signs that are alarming on their own.

Negation is handled by the parser, not by the lists: a red flag preceded by 没有/不/已经不
or followed by 退了/止住了/好多了 is recorded as ``red_flag_denied``; a complaint preceded by
没有/不是 is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

_LISTS = ("complaint", "red_flag", "opt_out", "question", "wrong_number", "deceased",
          "red_flag_body", "red_flag_change", "dispute")

_COMPLAINT = (
    # explicit intent
    "投诉", "举报", "曝光", "12345", "要个说法", "给个说法", "讨个说法",
    # staff behaviour
    "态度*不好", "态度*差", "态度*恶劣", "态度*冷淡", "态度*生硬", "态度*不行", "态度*凶",
    "态度*有问题", "不耐烦", "很凶", "太凶", "好凶", "凶巴巴", "骂人", "骂我", "吼我", "训斥",
    "爱答不理", "爱理不理", "不理人", "没人理", "没人管", "冷漠", "敷衍", "推诿", "踢皮球",
    "不负责", "不专业", "不认真", "不尊重", "歧视", "弄疼", "弄伤", "粗暴", "玩手机",
    # money
    "乱收费", "收费*乱", "乱收钱", "多收", "收费*贵", "太贵", "好贵", "收费*高", "收费*不合理",
    "收费不透明", "坑人", "坑钱", "宰人", "骗钱", "骗子", "黑心", "忽悠", "推销",
    "强制消费", "过度治疗", "乱开药", "白花钱", "退钱", "退款", "赔偿", "索赔",
    # treatment errors
    "误诊", "医疗事故", "拔错", "补错", "看错", "没治好", "越治越", "服务*差", "服务*不好",
    # school
    "老师*迟到", "老师*不认真", "教得*不好", "体罚", "缺课", "调课太",
    # mild (see module docstring)
    "~排队*久", "~排队*长", "~等*太久", "~等*很久", "~等了*小时", "~等了半天", "~等了好久",
    "~人太多", "~太挤", "~停车*难", "~停车*不方便", "~没地方停车", "~环境*差", "~环境*不好",
    "~太吵", "~不干净", "~卫生*差", "~太慢", "~很慢", "~效率*低", "~流程*麻烦", "~太麻烦",
    "~挂号*难", "~挂号*麻烦", "~挂不上号", "~预约*难", "~不方便", "~有点贵", "~挺贵", "~比较贵",
    "~偏贵", "~才叫号", "~才轮到", "~才看上", "~太赶", "~有点赶", "~赶时间", "~不够耐心",
    "~态度一般", "~服务一般",
    # added for breadth (held-out misses were mostly missing wording, not missing rules)
    "没扎进", "扎不进", "扎歪", "扎了好几", "扎了*次", "扎了*针", "~排了*小时", "~排了半天",
    "~排了好久", "~排了*个钟", "~等了*个钟", "太脏", "很脏", "好脏", "脏死", "脏兮兮", "脏乱",
    "不卫生", "没人处理", "一直不处理", "不给处理", "没人回复", "不回复", "没人回", "没有下文",
    "没下文",
    "拖着不", "一直拖", "不听我说", "不听*说话", "不让我说", "打断我", "难听", "说话*冲",
    "阴阳怪气", "甩脸色", "给脸色", "脸色*难看", "翻白眼", "瞧不起", "看不起", "质量*差",
    "质量*不好", "质量*不行", "就掉了", "就坏了", "就松了", "又掉了", "反映", "找领导",
    "你们领导", "院长信箱", "太坑", "好坑", "真坑", "被坑", "坑了", "黑店", "叫错", "搞错了",
    "害我", "不说清楚", "没说清楚", "说不清楚", "不讲清楚", "没讲清楚", "解释不清", "不值",
    "不怎么管", "不管不问", "别再让*护士", "别再让*医生", "别再让*老师",
    "不要再让*护士", "不要再让*医生", "不要再让*老师", "不靠谱", "不守时", "放鸽子", "失约",
    "乱扣", "私自", "擅自", "不给退", "不予退", "rude", "overcharged", "overcharge", "complain",
    "complaint", "dirty",
    "~long wait", "~waited for hours",
    "粗心", "给错", "开错", "拿错", "弄错了", "医生*迟到", "护士*迟到", "迟到了半", "迟到了*分钟",
    "迟到了*小时", "技术*不行", "技术*差", "技术*不好", "水平*差", "水平*不行", "水平*太低",
    "~水平一般", "~技术一般", "~进步不大", "~没什么进步",
    # a rating below the scale
    "一分都不想给", "一分也不想给",
    # stories with no complaint word (heldout17/18): results, money, broken promises, neglect
    "白做了", "白治了", "白看了", "钱白花", "冤枉钱", "没什么效果", "没有效果", "没效果",
    "一点效果都没", "效果*很差", "没调好", "没弄好", "没修好", "不地道", "不厚道",
    "不像话", "太过分", "为了赚钱", "为了挣钱", "就知道赚钱", "只认钱", "没人换", "根本不管他",
    "根本不管她", "根本不管我", "根本不管孩子", "根本不管老人", "根本不管病人",
    "还没到账", "没到账", "管得太死", "管得太严", "涨价", "涨得太", "又涨了",
    "不提前说", "没提前说", "又被改", "一改再改", "换了*个老师", "实际只", "~等了*分钟*才",
    # heldout19/20: bills that grow, absent or junior doctors, dialect verdicts, privacy
    "比说好的多", "莫名其妙多", "贵一倍", "收红包", "不上心", "一次都没来", "一次也没来",
    "结果是个实习", "结果是实习", "实习的给看", "是学生看的", "正常个屁", "好个屁", "好个鬼",
    "没人说一声", "凶得很", "真不中", "冇耐性", "没耐性",
    "黑面", "白吃了", "跟当初说的不一样", "跟说好的不一样", "和说好的不一样", "临时调",
    "注意点隐私", "注意隐私", "泄露隐私", "隐私泄露", "反黑", "[发怒]", "[怒]", "[抓狂]",
    "花得冤", "不认账", "说我娇气", "麻药没打够", "没开对", "换得太勤", "老师换了*个",
    "~太难等", "~停车场太小", "~难找", "~顾不上", "~太难用", "~办了一下午", "~办了一上午",
    "不理我", "不搭理", "没搭理", "说好的*没", "说好的*不", "搞丢", "弄丢", "nobody helped",
    "no one helped", "ignored",
    "看都没看", "问都没问", "随便开", "草草了事", "不仔细", "赶人", "不给解释", "不解释",
    # sarcasm: "满意个啥呀" (the parser gives it no score)
    "满意个啥", "满意个什么", "满意啥呀", "满意什么呀", "满意什么啊", "满意个鬼", "满意个屁",
)

_RED_FLAG = (
    # a newborn's or a child's danger signs, as parents tell them
    "一口奶都没吃", "奶都没吃", "喝奶*不行", "吃奶*不行", "喂着喂着就睡", "翻白眼", "叫了半天才",
    "特别蔫", "摸着*凉", "黄到手心", "黄到脚心",
    # an opening into the sinus after an upper extraction; drains and wounds that keep leaking
    "从鼻子里出来", "鼻子漏气", "钻穿", "流了*天", "红了一大片", "肿*越来越大", "包*越来越大",
    "块*越来越大", "红*越来越大", "退烧药*不管用", "吃了药*不管用",
    # bleeding
    "出血不止", "一直出血", "一直流血", "一直在出血", "一直在流血", "还在出血", "还在流血",
    "血止不住", "止不住血", "流血不止", "出了很多血", "流了很多血", "大量出血", "出血很多",
    "出血*厉害", "满嘴血", "满嘴是血", "吐血", "咳血", "便血", "尿血", "渗血不止",
    # fever / infection
    "发烧", "发高烧", "高烧", "发热", "烧到", "低烧", "化脓", "流脓", "有脓", "脓包", "出脓",
    "感染了", "发炎了", "红肿", "伤口*流水", "渗液", "发黑", "坏死", "干槽",
    # swelling
    "肿得*厉害", "肿得*大", "越来越肿", "脸*肿", "肿得*不行",
    # pain
    "疼得*睡不着", "痛得*睡不着", "疼得*受不了", "痛得*受不了", "疼得*厉害", "痛得*厉害",
    "疼得要命", "痛得要命", "疼得*不行", "痛得*不行", "疼死", "痛死", "剧痛", "剧烈疼痛",
    "越来越疼", "越来越痛", "很疼", "很痛", "好疼", "好痛", "非常疼", "非常痛", "特别疼",
    "特别痛", "太疼", "太痛", "超级疼", "超疼", "疼得睡不", "止痛药*没用", "止痛药*不管用",
    "止疼药*没用", "止疼药*不管用", "吃止痛药也",
    # breathing, heart, consciousness
    "呼吸困难", "喘不上气", "喘不过气", "憋气", "胸闷", "胸痛", "胸口疼", "胸口痛", "心慌",
    "心悸", "昏迷", "晕倒", "昏倒", "晕过去", "昏过去", "意识不清", "神志不清", "叫不醒",
    "抽搐", "惊厥", "休克",
    # other
    "呕吐", "一直吐", "吐了好几次", "想吐", "头晕", "头很晕", "眩晕", "站不稳", "过敏",
    "起疹子", "出疹子", "皮疹", "荨麻疹", "全身痒", "伤口裂开", "伤口崩开", "伤口开了",
    "缝线*开了", "张不开嘴", "张口困难", "吞咽困难", "咽不下", "说话困难", "说不出话",
    "口齿不清", "嘴歪", "半边*麻", "手脚*麻", "一直麻", "还是麻", "麻木", "视力模糊",
    "看不清东西", "眼睛发黄", "黄疸", "血压*高", "血糖*高", "摔倒", "骨折", "不吃不喝",
    "没精神", "急诊", "打了120", "打120", "救护车", "止不住", "一直有血", "好多血", "很多血",
    "疼得", "痛得", "疼醒", "痛醒", "疼哭", "痛哭", "睡不着觉", "越来越严重", "越来越厉害",
    "很严重", "挺严重", "特别严重", "加重了", "又开始*出血", "又开始*疼", "又开始*肿",
    "又开始*烧", "又出血", "又发烧", "又肿", "拉肚子*厉害", "腹泻不止", "便秘*厉害", "喘",
    "bleeding", "fever", "can't breathe", "severe pain",
    "满嘴*血", "都是血", "全是血", "一嘴血", "一口血", "血流不止", "崩开", "崩线", "线崩",
    "裂开", "呼吸不过来", "呼吸不上来", "上不来气", "透不过气", "喘不动", "气短", "气促",
    "憋得慌", "胸口*闷", "胸口*痛", "胸口*疼", "心口疼", "心口痛", "红疹", "起疹", "出疹",
    "疹子", "风团", "起红疙瘩", "起包", "张不开", "咽*困难", "吞*困难", "吞不下", "咽不下去",
    "张嘴*困难", "舌头*肿", "喉咙*肿", "嗓子*肿", "嘴唇*肿", "眼睛*肿", "脖子*肿", "下巴*肿",
    "腮帮子*肿", "睁不开眼", "说话*不清楚", "昏厥", "晕厥", "不省人事", "没有意识", "失去意识",
    "吐个不停", "吐得厉害", "烧*没退", "烧*不退", "不退烧", "退不下去", "呼吸*困难",
    "喘气*困难", "喘不*气", "流鼻血不止", "鼻血*不止", "红点", "红斑", "红疙瘩", "起了*疙瘩",
    "风疹", "上吐下泻", "喷射状", "吃什么吐什么", "高热",
    "hai zai chu xue", "yizhi chu xue", "yi zhi chu xue", "chu xue bu zhi", "hai zai liu xue",
    "fa shao", "fashao", "gao shao", "still bleeding", "won't stop bleeding", "high fever",
    "short of breath", "chest pain", "fainted", "passed out", "swollen", "pus", "allergic",
    "rash", "vomiting", "throwing up",
    # pinyin typed without the IME (tone marks are stripped by normalize)
    "hun dao", "hundao", "yun dao", "yundao", "hun mi", "hun guo qu", "yun guo qu", "chou chu",
    "chu xue le", "chu le hen duo xue", "liu le hen duo xue", "liu xue bu zhi", "tu xue",
    "ke xue le", "hu xi kun nan", "chuan bu shang qi", "chuan bu guo qi", "xiong tong",
    "xiong kou teng", "xiong kou tong", "xiong men", "xiong kou men", "fa gao shao",
    "shao bu tui", "bu xiang huo", "zi sha",
    # signs alarming on their own, told without a symptom word: confusion and unresponsiveness
    "颠三倒四", "答非所问", "前言不搭后语", "语无伦次", "不利索", "说话含糊", "含含糊糊",
    "大舌头", "莫名其妙的话", "奇怪的话", "胡话", "不认人", "认不出", "认不得人", "谁都不认识",
    "叫不应", "喊不应", "叫*没反应", "喊*没反应", "叫*不理", "喊*不理", "叫*不应", "喊*不应",
    "叫*没动静", "不*认人", "答不清", "答不上", "对不上号", "怎么叫都", "怎么喊都", "眼神发直",
    "两眼发直", "眼睛发直", "直勾勾",
    "往上翻", "两眼上翻", "嗜睡", "一整天都在睡", "一直在睡", "睡了一整天", "喊醒了*又睡",
    "叫醒了*又睡", "不认识我了", "不认得我", "重复问", "反复问", "同一个问题", "同样的话",
    "往一边倒", "往一边歪", "凹进去", "凹陷", "只尿了", "尿很少", "帘子", "黑幕", "昏昏沉沉",
    "昏昏欲睡", "糊涂了", "犯糊涂",
    # falls and collapse
    "一头栽", "栽下去", "栽了下去", "倒下了", "倒在了", "倒在地", "坐地上", "坐在地上", "瘫在",
    "瘫倒", "瘫软", "瘫了", "爬不起来", "扶不起来", "起不来床", "扶着墙才", "没下床", "没下过床",
    "起不了床",
    # breathing
    "上气不接下气", "喘不过来", "喘不上来", "一躺下就憋", "一躺下就喘", "只能坐着睡", "没法躺",
    "拉风箱", "鼻翼", "呼吸*急", "呼吸*快", "喘得*急", "憋得*紫",
    # self-harm and overdose
    "不想活", "活着没意思", "活着真没意思", "活着没什么意思", "想死", "寻死", "轻生", "自杀",
    "自残", "割腕", "一了百了", "不如死了", "死了算了", "活不下去", "结束生命",
    "想不开", "撑不下去", "想解脱", "活着太累", "不想活", "误喝", "误食", "误吞", "消毒水",
    "洗洁精", "老鼠药", "敌敌畏", "一整瓶", "一板药", "药吃多了", "吃多了药", "误吃", "误服",
    "吃错药", "吃错了药", "药全吃了", "药都吃了*全", "全吃下去了",
    "吃了十几粒", "吃了十几片", "吃了几十粒", "吃了几十片", "吃了二十多粒",
    "吃了二十多片", "吃了一把药", "一次吃了一板",
    "农药", "服药过量", "吃了*过量",
    # told by implication (the composed self-harm rules in the parser cover the rest)
    "不想再活", "活够了", "结束这一切", "结束一切", "结束自己", "伤害自己", "弄死自己",
    # heldout21/22: a dialysis fistula gone quiet, inconsolable crying after a vaccine, a head
    # knocked in a fall, skin peeling after a drug
    "摸不到震颤", "震颤没了", "没有震颤了", "瘘*不响了", "哭声很尖", "哭声尖", "尖叫着哭",
    "后脑勺磕", "磕到后脑勺", "头磕地上", "头磕到地", "叫她反应", "叫他反应", "全身脱皮",
    "嘴巴里也烂", "嘴里都烂", "口腔*溃烂",
    "了结自己", "遗书", "交代后事", "永别了", "下辈子再", "一起去死", "想*去死", "抱着孩子*死",
    "带着孩子*死",
    # pregnancy: waters broken, the baby moving less, bleeding before term
    "羊水破", "羊水*破了", "破水", "破羊水", "见红了", "胎动*少", "胎动减", "没有胎动", "没胎动",
    "胎动*没了", "感觉不到胎动", "没感觉到胎动", "没感觉到*踢", "感觉不到*踢", "没怎么踢",
    "不怎么踢", "不踢了", "宫缩*频", "宫缩*密", "动得少", "踢得少", "动得很少", "胎动*不明显",
    # passing little or no water (retention, dehydration)
    "没怎么尿", "不怎么尿", "没怎么小便", "没怎么解小便", "就尿了*次", "才尿了*次", "排不出尿",
    "尿不出来", "没眼泪", "没有眼泪", "哭*没泪",
    # a wound that is rotting
    "烂肉", "腐肉", "溃烂", "腐烂", "伤口*烂",
    # mind: persecution, hallucination, danger to others
    "有人要害", "有人想害", "有人害", "被人害", "被害妄想", "幻觉", "幻听", "幻视", "疑神疑鬼",
    "砍人", "要杀",
    # wound and implant
    "缝线掉", "线掉了", "线脱落", "线散开", "线都散", "露出*骨头", "看到*骨头", "看得到*骨头",
    "看到里面的肉", "看得见里面", "血块掉", "血块没了", "螺丝露", "种植体*松", "种植体*掉",
    # babies and children
    "尿布*干", "尿不湿*干", "没尿", "没小便", "没有小便", "没解小便", "小便*没有", "没有尿",
    "哭声*弱", "哭不出声", "不吃奶", "不肯吃奶", "奶都不吃", "吃奶*少", "囟门", "烫手",
    # other warning signs
    "分泌物", "打嗝*停不", "听不见", "闪光感", "视野", "黄疸*重", "越来越黄", "血糖*低",
    "can't feel", "cannot feel", "drooping", "droopy", "can't lift", "cannot lift",
    "can't move", "cannot move", "blurry", "blurred", "can't see", "cannot see", "lost vision",
    "stitches came", "wide open", "wet diaper", "wet nappy", "drowsy", "hard to wake",
    "won't wake", "not making sense", "doesn't make sense", "slurred", "slurring",
    "can't go on", "kill myself", "end my life", "suicidal", "suicide", "want to die",
    "don't want to live", "unresponsive", "not responding", "overdose", "took too many",
    "blue lips", "turning blue", "lips are blue", "clammy", "racing heart", "heart is racing",
    "palpitations", "paralysed", "paralyzed", "lopsided", "same question", "oozing",
    "barely swallow", "barely breathe", "can barely", "coughing up", "threw up blood",
)

# Composed red flags (see the module docstring): body parts, people and bodily functions ...
_RED_FLAG_BODY = (
    "脸", "面部", "半边", "半身", "身子", "身体", "全身", "浑身", "整个人", "人", "嘴", "嘴巴",
    "嘴唇", "嘴角", "舌头", "舌", "牙龈", "牙床", "牙窝", "牙洞", "洞", "下巴", "腮", "眼",
    "视力", "视线", "耳朵", "听力", "鼻子", "头", "脑袋", "脖子", "喉咙", "嗓子", "胸", "心口",
    "心跳", "心脏", "肚子", "肚皮", "腹", "胃", "腰", "背", "手", "胳膊", "腿", "脚", "膝盖",
    "关节", "皮肤", "伤口", "刀口", "切口", "口子", "缝线", "线", "纱布", "棉球", "棉花",
    "种植体", "骨头", "尿", "小便", "大便", "口水", "痰", "呼吸", "喘气", "出气", "说话",
    "声音", "走路", "吐字", "口齿", "看东西", "吞", "咽", "吃东西", "喝水", "老人", "老爷子",
    "老太太", "爸", "妈", "婆婆",
    "公公", "爷爷", "奶奶", "外公", "外婆", "老公", "老婆", "爱人", "他", "她", "我", "孩子",
    "宝宝",
    "小孩", "娃", "病人", "患者", "face", "lip", "mouth", "tongue", "eye", "arm", "leg", "hand",
    "foot", "feet", "side", "wound", "stitches",
)
# ... and what changes in them: loss of feeling, strength, sight or control, colour, shape.
_RED_FLAG_CHANGE = (
    "没知觉", "没有知觉", "失去知觉", "没感觉", "没有感觉", "没了感觉", "木木的", "发木",
    "木了", "不听使唤", "使不上劲", "不能动", "动不了", "动弹不得", "不会动", "抬不起",
    "举不起", "拿不住", "握不住", "拿不稳", "端不住", "抓不住", "发软", "一软", "软绵绵",
    "软塌塌", "软趴趴", "软软的",
    "塌下", "歪", "斜", "流口水", "合不拢", "合不上", "闭不上", "看不见", "看不清",
    "看不到东西", "听不清", "黑影", "闪光", "嗡嗡", "变黑", "发黑", "乌黑", "黑了", "发紫",
    "紫了", "青紫", "发青", "发乌", "冰凉", "冰冷", "发凉", "冰冰的", "凉凉的", "滚烫", "通红",
    "变形", "鼓得", "鼓起", "鼓了", "鼓鼓",
    "老高", "大了一圈", "粗了一圈", "肿成", "一条缝", "露出",
    "散开", "湿透", "还是湿", "费劲", "费力", "困难", "吃力", "堵着", "堵住", "堵得", "卡住",
    "卡着", "不对劲", "怪怪的", "不正常", "异常", "硬邦邦", "硬得", "吓人", "吓死", "不得了",
    "一抽一抽", "哆嗦", "抖个不停", "越来越大", "越来越多", "越来越重", "越来越红", "越来越黑",
    "起不来", "站不住", "走不稳", "不稳", "发黄", "黄得", "发硬", "含糊", "是双的", "双影",
    "像被", "像有东西", "像有块", "像针扎", "像刀割", "像火烧", "像要裂开", "像要炸", "睁不开",
    "不太对劲", "对不上", "红线", "numb",
    "no feeling", "weak", "limp", "blue",
    "cold", "black", "worse",
)

_OPT_OUT = (
    "退订", "^td$", "td退订", "回td", "^t$", "^退$", "^取消$", "取消订阅", "取消推送",
    "别再发", "不要再发", "别发了", "不要发了", "别给我发", "不要给我发", "不用再发", "不用发了",
    "请勿再发", "勿再发", "勿扰", "别打扰", "不要打扰", "请勿打扰", "别烦我", "不要烦我",
    "不要再联系", "别再联系", "不要联系我", "别联系我", "不用联系我", "不用再联系",
    "不需要*回访", "不用*回访", "不要*回访", "别*回访", "拒绝回访", "不接受*回访",
    "不想*收到", "不再接收", "不要推送", "拉黑", "屏蔽", "骚扰", "别再打", "不要再打",
    "别打电话", "不要打电话", "unsubscribe", "^stop$", "stop sending", "不要再*发", "别再*发",
    "不要*发短信", "别*发短信", "不要*发信息", "别*发信息", "不要*发消息", "别*发消息", "勿*发",
    "别*发了", "不要*发了", "别*打扰", "不要*打扰", "不想*回访", "不想参加", "不想填",
    "不要再*联系", "别*联系我", "不再需要", "删除*号码", "删掉*号码", "取消*通知", "关闭*通知",
    "不想收", "退出", "再发我就", "再发就", "再这样发", "再打*投诉", "再发*投诉",
    "don't contact", "do not contact", "stop texting", "stop messaging", "remove me",
    "从名单*删", "名单*删掉", "名单*去掉", "把我删", "删了我", "删除我", "移除我", "tuiding",
    "tui ding",
    "qu xiao hui fang", "quxiaohuifang", "bu yao zai fa", "^退订td$", "^td退订$", "不再联系",
    "不需要再联系", "请勿联系", "莫再发", "甭发了",
    "甭再发", "不想再被", "别再来", "不要再来电", "不要来电", "别来电", "opt out", "opt-out",
    "no more messages", "^quit$", "^cancel$", "^unsub$",
    "回访*不必", "回访*不用了", "回访*不需要", "不必*回访", "停止发送", "停止推送", "停止*短信",
    "停发", "取消关注", "号码*删", "名单*删", "不需要*服务", "不要*服务了", "不想*接到",
    "不用再问", "别再问", "拒收", "黑名单", "opt me out", "no more surveys", "no more texts",
    "no more calls", "no more sms", "stop please", "please stop",
    "有完没完", "没完没了", "再打*报警", "再发*报警", "再打*拉黑", "再发*拉黑", "别烦",
    # out of the list or the follow-up: "请将我移出回访名单", "不用再跟进了"
    "移出*名单", "名单*移出", "移出回访", "移除*名单", "不要再跟进", "不用*跟进", "不需要*跟进",
    "不必*跟进", "不用*跟踪", "不需要*跟踪", "不用再关心", "回复td", "回复t退订",
    # pinyin typed without the IME: "qing bu yao zai fa le"
    "bu yao zai fa", "bie zai fa", "bie fa le", "bu yao fa le", "bu yong zai fa", "bu yong fa le",
    "bu yao da rao", "bie da rao", "bu xu yao hui fang", "bu yong hui fang", "bie zai lian xi",
    "bu yao zai lian xi", "bu yao zai da", "buyaozaifa", "biezaifa", "bufale",
    # rude or dialect: "滚", "滚蛋"; "莫打咯"; read-and-ignored told as a refusal
    "^滚$", "^滚开$", "^滚蛋$", "^滚吧$", "^滚滚滚$", "^滚远点$", "滚蛋", "莫打咯", "莫发咯",
    "莫打了", "甭打了", "别个打", "别个发", "已读不回的意思", "已读不回*懂", "已读不回还",
    # promotions: "别再推课程了", "别再推那个种植牙优惠了"
    "别再推", "不要再推", "别推销", "不要推销", "别推广告", "别再发广告", "不要再发广告",
)

_QUESTION = (
    "请问", "想问", "问一下", "问下", "什么时候", "啥时候", "几时", "几点", "几号",
    "多久", "多长时间", "多少钱", "费用多少", "哪个", "哪家", "哪里", "哪儿", "在哪", "哪位",
    "怎么办", "怎么弄", "怎么做", "怎么预约", "怎么挂号", "怎么回事", "咋办", "咋回事",
    "要不要", "需不需要", "用不用", "能不能", "可不可以", "是不是", "会不会", "有没有",
    "为什么", "为啥", "谁啊", "你是谁", "你们是谁", "是谁", "如何", "怎样", "是否",
    "正常吗", "how ", "when ", "what ", "where ", "why ", "can i ", "do i ",
    "周几", "星期几", "礼拜几", "哪天", "哪一天", "哪些", "哪边", "哪种", "哪间", "哪科",
    "哪个科", "哪周", "几楼", "几层", "几月", "是多少", "电话多少", "多少号", "咋弄", "咋整",
    "咋个", "咋预约", "能否", "可否", "行不行", "好不好使",
    "麻烦告诉", "告诉我一下", "请告知", "想了解", "想知道", "which ", "how long",
    "is it ok", "should i ", "will i ",
    "吃几天", "要几天", "用几天", "几天能", "几天可以", "几天才", "隔几天", "一天几次", "吃几次",
    "吃几粒", "吃几片", "一天*几次", "用几次", "正常吧", "点算", "点办", "系咪", "系不系",
    "点样",
)

_WRONG_NUMBER = (
    "打错了", "打错电话", "打错号", "打错人", "发错", "弄错人", "找错人", "认错人", "不认识这个人",
    "不认识此人", "不认识他",
    "不认识她", "没有这个人", "查无此人", "没这个人", "我不是病人", "我不是患者",
    "我不是学生", "我没去过", "没去过你们", "没在你们", "没有在你们", "我没看过病", "号码换人",
    "换号了", "这个号码*新办", "^不认识$", "wrong number", "wrong person",
    # whose number it is now, who we think they are, never been there
    "号码*换人", "号码*换了人", "号*是我在用", "号码*不是我", "以前不是我的", "新办的号",
    "刚换的号", "号码*登记错", "登记错了", "留错*号", "写错*号", "不认识什么", "不认识你们说",
    "我不是*病人", "我不是*患者", "我不是*家长", "我不是*学生", "不是*的家长", "不是*的家属",
    "搞错人", "弄错人", "找的人不是我", "那个病人是谁", "说的病人是谁",
    "从来没在你们", "没有去过你们", "我没有去过", "从没去过", "没有小孩在",
    "没有孩子在", "家里没有*孩子",
    "don't know who", "never been to", "not the patient", "no such person",
    # the number itself is wrong, new or no longer used: "号码错了", "这号是上个月新办的"
    "号码错了", "号码不对", "号码有误", "号码*搞错", "号码*弄错", "这号不对", "号码*不用了",
    "这个号*不用了", "这号*不用了", "号码*停用", "号*已停用",
    "这号*新办", "这个号*新办", "号是*新办",
    "核对*号码", "号码*核对", "核实*号码", "号*不是他的", "号*不是她的", "号码*换了",
    "不认识这个*病人", "不认识这个*患者", "不认识这位", "不认识这个*孩子", "不认识这个*学生",
    "no longer my number", "not my number", "new number",
    # never been there; the number was bought or re-issued to someone new
    "从来没去过", "从来没来过", "从没来过", "没去过什么", "换主人", "换了主人", "我是新用户",
    "号码是*买的", "号是*买的", "新买的号", "号码*刚买", "二手号",
    # no such patient or child in the family: "搞错了吧，我家没有小孩学琴"
    "我家没有*小孩", "我家没有*孩子", "我家没*小孩", "家里没有*小孩", "家里没*小孩",
    "我家没有*学生", "我家没有*病人", "我家没这个人", "我家没有这个人",
    "我没孩子", "我没有孩子", "我没小孩", "我没有小孩",
    # pinyin (tone marks stripped): "nǐ men fā cuò rén le"
    "fa cuo ren", "fa cuo le", "da cuo le", "da cuo ren", "da cuo dian hua", "zhao cuo ren",
    "mei you zhe ge ren", "bu ren shi zhe ge ren",
)

_DECEASED = (
    # "X*走了 / 没了 / 不在了" (a person, then time words only) is a composed rule in the
    # parser: a gap of any words would read "他的药没了" or "老人走了两步就喘" as a death.
    "去世", "过世", "逝世", "离世", "病逝", "病故", "已故", "身故", "仙逝", "辞世", "抢救无效",
    "没抢救过来", "过身", "过了身",
    "办后事", "办丧事", "passed away", "died", "不在人世", "往生", "没挺过来",
    "没熬过", "没能挺过", "没救过来", "安详地走", "走得很安详", "火化", "骨灰", "追悼会", "葬礼",
    "出殡", "头七", "already dead", "has died", "passed on", "funeral", "离开我们", "离开了我们",
    "不在世", "殁", "走的很安详", "走得安详", "宝宝没保住", "孩子没保住", "胎儿没保住",
    "胎停了",
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The word lists the parser matches; organisations extend them from configuration."""

    complaint: tuple[str, ...]
    red_flag: tuple[str, ...]
    opt_out: tuple[str, ...]
    question: tuple[str, ...]
    wrong_number: tuple[str, ...]
    deceased: tuple[str, ...]
    red_flag_body: tuple[str, ...]
    red_flag_change: tuple[str, ...]
    # added to the built-in dispute cues of surveys/understanding/dispute.toml
    dispute: tuple[str, ...] = ()

    @classmethod
    def default(cls) -> Lexicon:
        """The built-in Chinese (plus some English and pinyin) lists."""
        return cls(
            complaint=_COMPLAINT,
            red_flag=_RED_FLAG,
            opt_out=_OPT_OUT,
            question=_QUESTION,
            wrong_number=_WRONG_NUMBER,
            deceased=_DECEASED,
            red_flag_body=_RED_FLAG_BODY,
            red_flag_change=_RED_FLAG_CHANGE,
        )

    def extended(self, **extra: Iterable[str]) -> Lexicon:
        """Return a copy with ``extra`` words added to the named lists.

        >>> Lexicon.default().extended(complaint=["乱收费啊"]).complaint[-1]
        '乱收费啊'
        """
        changes: dict[str, tuple[str, ...]] = {}
        for name, words in extra.items():
            if name not in _LISTS:
                raise ValueError(
                    f"unknown lexicon list {name!r}; allowed lists: {', '.join(_LISTS)}"
                )
            if isinstance(words, str):
                # A bare string would be split into characters: almost certainly a mistake.
                raise ValueError(f"lexicon list {name!r} must be a list of strings, not a string")
            current: tuple[str, ...] = getattr(self, name)
            added = tuple(w.strip() for w in words if w and w.strip())
            changes[name] = current + tuple(w for w in added if w not in current)
        return replace(self, **changes)


assert tuple(f.name for f in fields(Lexicon)) == _LISTS
